// What entity capabilities make the server remember, and its bounds: anyone who can send a user
// presence can make it ask and remember. References: XEP-0115 §5.4, §6.3.
import { describe, it, expect } from 'vitest';
import { x, type Element } from '../../../src/xml/element.js';
import { NS } from '../../../src/xml/ns.js';
import { capsVer } from '../../../src/modules/caps/caps-hash.js';
import { DEFAULT_INTEREST_LIMITS, NotifyInterest, type InterestLimits } from '../../../src/modules/caps/notify-interest.js';

/** A client's disco#info with +notify for `nodes`, and its verified `<c/>`. */
function caps(...nodes: string[]): { info: Element; c: Element } {
  const info = x('query', { xmlns: NS.DISCO_INFO }, x('identity', { category: 'client', type: 'pc' }), ...nodes.map((n) => x('feature', { var: `${n}+notify` })));
  return { info, c: x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: 'n', ver: capsVer(info)! }) };
}

/** A NotifyInterest whose queries are answered by `answer` (by JID), counting them. */
function table(limits: Partial<InterestLimits>, answer: (jid: string) => Element | undefined | Promise<Element | undefined>) {
  const asked: string[] = [];
  const told: string[] = [];
  const t = new NotifyInterest({ ...DEFAULT_INTEREST_LIMITS, ...limits }, async (_user, jid) => {
    asked.push(jid);
    return answer(jid);
  }, (user, jid, nodes) => told.push(`${user} ${jid} ${nodes.join(',')}`));
  return { t, asked, told };
}

describe('NotifyInterest', () => {
  it('forgets every JID of a domain (and its subdomains) whose server is gone, for all users, and nothing else', async () => {
    const mood = caps('urn:mood');
    const { t } = table({}, () => mood.info);
    for (const [user, jid] of [['alice', 'bob@gone.i2p/1'], ['alice', 'muc.gone.i2p/x'], ['carol', 'BOB@gone.i2p/2'], ['alice', 'dave@stays.i2p/1'], ['alice', 'eve@notgone.i2p/1']] as const) {
      await t.learn(user, jid, mood.c);
    }
    const before = t.sizes().totalBytes;
    t.forgetDomain('gone.i2p');
    expect(t.recipients('alice', 'urn:mood').sort()).toEqual(['dave@stays.i2p/1', 'eve@notgone.i2p/1']);
    expect(t.recipients('carol', 'urn:mood')).toEqual([]);
    expect(t.sizes().interests).toBe(2);
    expect(t.sizes().totalBytes).toBeLessThan(before);
  });

  it('asks once per verified ver and shares the answer; tells about new interest once', async () => {
    const mood = caps('urn:mood');
    const { t, asked, told } = table({}, () => mood.info);
    await Promise.all([t.learn('alice', 'bob@x/1', mood.c), t.learn('alice', 'bob@x/2', mood.c)]);
    await t.learn('carol', 'bob@x/1', mood.c);
    await t.learn('carol', 'bob@x/1', mood.c);
    expect(asked).toEqual(['bob@x/1']);
    expect(t.recipients('alice', 'urn:mood').sort()).toEqual(['bob@x/1', 'bob@x/2']);
    expect(told).toEqual(['alice bob@x/1 urn:mood', 'alice bob@x/2 urn:mood', 'carol bob@x/1 urn:mood']);
    t.forget('alice', 'bob@x/1');
    expect(t.recipients('alice', 'urn:mood')).toEqual(['bob@x/2']);
  });

  it('keeps an answer that does not match its ver for that JID only', async () => {
    const mood = caps('urn:mood');
    const lie = x('c', { xmlns: NS.CAPS, hash: 'sha-1', node: 'n', ver: 'xxxxxxxxxxxxxxxxxxxxxxxxxxx=' });
    const { t, asked } = table({}, () => mood.info);
    await t.learn('alice', 'eve@x/1', lie);
    await t.learn('alice', 'eve@x/1', lie); // the same caps again: not asked again
    await t.learn('alice', 'mallory@x/1', lie);
    expect(asked).toEqual(['eve@x/1', 'mallory@x/1']);
    expect(t.sizes().vers).toBe(0);
  });

  it('bounds JIDs per user, bytes over all users, the ver cache, and queries in flight', async () => {
    const { t } = table({ perUser: 3 }, () => caps('urn:a').info);
    for (let i = 0; i < 10; i++) await t.learn('alice', `c${i}@x/r`, caps('urn:a').c);
    expect(t.recipients('alice', 'urn:a')).toHaveLength(3);

    const many = Array.from({ length: 200 }, (_, i) => `urn:node:${i}:${'n'.repeat(900)}`);
    const big = table({ totalBytes: 2 * 1024 * 1024 }, () => caps(...many).info);
    for (let i = 0; i < 20; i++) await big.t.learn(`u${i}`, 'c@x/r', caps(...many).c);
    expect(big.t.sizes().totalBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    expect(big.t.sizes().interests).toBeLessThan(20);

    const vers = Array.from({ length: 50 }, (_, i) => caps(`urn:v${i}:${'v'.repeat(200)}`));
    const lru = table({ cacheBytes: 8 * 1024 }, (jid) => vers[Number(jid.slice(1, jid.indexOf('@')))]!.info);
    for (let i = 0; i < 50; i++) await lru.t.learn('alice', `c${i}@x/r`, vers[i]!.c);
    expect(lru.t.sizes().cacheBytes).toBeLessThanOrEqual(8 * 1024);
    expect(lru.t.sizes().vers).toBeLessThan(50);

    // Nobody answers: at most inFlight queries wait, the rest are not asked.
    const silent = table({ inFlight: 4 }, () => new Promise<undefined>(() => {}));
    for (let i = 0; i < 20; i++) void silent.t.learn('alice', `c${i}@x/r`, caps(`urn:s${i}`).c);
    expect(silent.asked).toHaveLength(4);
  });
});
