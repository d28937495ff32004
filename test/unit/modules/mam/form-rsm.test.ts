// The archive query's form (XEP-0313 §4.1, XEP-0082 dates) and RSM (XEP-0059) parsing.
import { describe, expect, it } from 'vitest';
import { parseElement } from '../../../../src/xml/parse.js';
import { parseDateTime, readQueryForm } from '../../../../src/modules/mam/form.js';
import { readRsm } from '../../../../src/modules/mam/rsm.js';
import { parseQuery } from '../../../../src/modules/mam/query.js';
import { StanzaError } from '../../../../src/core/errors.js';

const NS = 'urn:xmpp:mam:2';
const form = (fields: string, type = "type='submit'"): string =>
  `<x xmlns='jabber:x:data' ${type}><field var='FORM_TYPE' type='hidden'><value>${NS}</value></field>${fields}</x>`;
const f = (v: string, ...values: string[]): string => `<field var='${v}'>${values.map((x) => `<value>${x}</value>`).join('')}</field>`;

/** The condition a parse throws. */
function condition(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'none';
}

describe('XEP-0082 DateTime', () => {
  it('reads UTC, offsets and fractions', () => {
    expect(parseDateTime('2024-05-01T10:00:00Z')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseDateTime('2024-05-01T12:00:00+02:00')).toBe(Date.UTC(2024, 4, 1, 10));
    expect(parseDateTime('2024-05-01T10:00:00.250Z')).toBe(Date.UTC(2024, 4, 1, 10, 0, 0, 250));
  });
  it('refuses other forms and dates that do not exist', () => {
    for (const s of ['2024-05-01', '2024-05-01T10:00:00', '2024-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '1714557600', 'yesterday', '2024-05-01 10:00:00Z']) {
      expect(parseDateTime(s), s).toBeUndefined();
    }
  });
});

describe('query form', () => {
  it('reads every field, with prepared bare JIDs (items are stored by bare JID, as Prosody)', () => {
    const q = readQueryForm(parseElement(form(f('with', 'Juliet@Capulet.lit/Balcony') + f('start', '2024-05-01T10:00:00Z') + f('end', '2024-05-02T10:00:00Z')
      + f('before-id', 'b') + f('after-id', 'a') + f('ids', 'x', 'y'))), NS);
    expect(q).toEqual({ with: 'juliet@capulet.lit', start: Date.UTC(2024, 4, 1, 10), end: Date.UTC(2024, 4, 2, 10), beforeId: 'b', afterId: 'a', ids: ['x', 'y'] });
  });
  it('takes empty values as unset', () => {
    expect(readQueryForm(parseElement(form(f('with', '') + f('start'))), NS)).toEqual({});
  });
  it('refuses a wrong or missing FORM_TYPE, bad JIDs and dates, repeated fields, several values', () => {
    const bad = (xml: string): string => condition(() => readQueryForm(parseElement(xml), NS));
    expect(bad(`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>`)).toBe('bad-request');
    expect(bad(`<x xmlns='jabber:x:data' type='submit'>${f('with', 'a@b')}</x>`)).toBe('bad-request');
    expect(bad(form(f('with', 'a@@b')))).toBe('bad-request');
    expect(bad(form(f('start', 'now')))).toBe('bad-request');
    expect(bad(form(f('with', 'a@b') + f('with', 'c@d')))).toBe('bad-request');
    expect(bad(form(f('with', 'a@b', 'c@d')))).toBe('bad-request');
    expect(bad(form('', "type='form'"))).toBe('bad-request');
    expect(bad(form(f('full-text-search', 'hello')))).toBe('feature-not-implemented');
  });
});

describe('RSM', () => {
  const rsm = (inner: string) => readRsm(parseElement(`<query xmlns='${NS}'><set xmlns='http://jabber.org/protocol/rsm'>${inner}</set></query>`));
  it('reads max, after, before (empty: the last page) and index', () => {
    expect(rsm('<max>10</max><after>abc</after>')).toEqual({ max: 10, after: 'abc' });
    expect(rsm('<max>5</max><before/>')).toEqual({ max: 5, before: true });
    expect(rsm('<before>xyz</before>')).toEqual({ before: 'xyz' });
    expect(rsm('<index>3</index><max>2</max>')).toEqual({ index: 3, max: 2 });
    expect(readRsm(parseElement(`<query xmlns='${NS}'/>`))).toEqual({});
  });
  it('refuses negative or non-numeric max and an empty after', () => {
    expect(condition(() => rsm('<max>-1</max>'))).toBe('bad-request');
    expect(condition(() => rsm('<max>ten</max>'))).toBe('bad-request');
    expect(condition(() => rsm('<after/>'))).toBe('bad-request');
  });
  it('cuts max to the page limit, defaults to 20, and refuses too many ids', () => {
    const q = (inner: string) => parseQuery(parseElement(`<query xmlns='${NS}' queryid='q1'>${inner}</query>`), NS, 50);
    expect(q('').limit).toBe(20);
    expect(q("<set xmlns='http://jabber.org/protocol/rsm'><max>500</max></set>").limit).toBe(50);
    expect(q("<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>").limit).toBe(0);
    expect(q('<flip-page/>').flip).toBe(true);
    expect(q('').queryid).toBe('q1');
    const ids = Array.from({ length: 1001 }, (_, i) => `<value>i${i}</value>`).join('');
    expect(condition(() => q(form(`<field var='ids'>${ids}</field>`)))).toBe('policy-violation');
  });
});
