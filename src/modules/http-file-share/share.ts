// HTTP file upload (Prosody's http_file_share), as `Component "share.example" "http_file_share"`
// or a module of a VirtualHost: users of the parent host (or of the VirtualHost) and those in
// http_file_share_access ask for a slot over XMPP, PUT the file to the slot's URL with its token,
// and anyone with the GET URL downloads it until http_file_share_expires_after. URLs start with
// the host's public base URL (http_external_url: the operator's I2P address).
// Bounded: size per file, bytes per user per day, bytes on disk, uploads at once; pending slots
// are signed tokens and cost nothing. Expiry runs off the hot path, from a clock tests move.
// References: XEP-0363 (HTTP File Upload), XEP-0030, XEP-0128 (max-file-size in disco#info).
import { join } from 'node:path';
import { defineModule, type ModuleDefinition } from '../../core/modules.js';
import { StanzaError } from '../../core/errors.js';
import { ConfigError } from '../../config/errors.js';
import type { Jid } from '../../jid/jid.js';
import { x, type Element } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';
import { encodeName } from '../../storage/file-names.js';
import { baseUrl, externalUrlProblem } from '../../net/http/url.js';
import { formElement } from '../adhoc/dataforms.js';
import { startExpiry, systemClock, type MamClock } from '../mam/expiry.js';
import { FileStore } from './files.js';
import { filenameProblem, newId, normaliseType, typeAllowed } from './names.js';
import { DailyUse } from './quota.js';
import { SlotSigner } from './slot-token.js';
import { fileShareRoute, ROUTE } from './transfer.js';
import { charge, Usage } from './usage.js';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';
/** Seconds a slot's PUT may start after the slot was given (I2P tunnels are slow to build). */
export const SLOT_VALIDITY = 600;
const DAY = 86_400_000;

/** The http_file_share module with its clock (tests pass one they move). */
export function createHttpFileShare(clock: MamClock = systemClock): ModuleDefinition {
  return defineModule({
    name: 'http_file_share',
    async setup(ctx) {
      const host = ctx.host.name;
      const sizeLimit = ctx.option.get<number>('http_file_share_size_limit');
      const dailyQuota = ctx.option.get<number | undefined>('http_file_share_daily_quota') ?? 10 * sizeLimit;
      const globalQuota = ctx.option.get<number>('http_file_share_global_quota');
      const expires = ctx.option.get<number>('http_file_share_expires_after');
      const allowed = ctx.option.get<string[] | undefined>('http_file_share_allowed_file_types');
      const access = new Set(ctx.option.get<string[]>('http_file_share_access').map((s) => s.toLowerCase()));
      const base = ctx.option.custom((config) => {
        const set = config.get<string | undefined>('http_external_url', host);
        const problem = set === undefined ? undefined : externalUrlProblem(set);
        if (problem) throw ConfigError.at(config.source('http_external_url', host), problem, 'http_external_url');
        return baseUrl(config, host);
      });
      const component = ctx.host.config.hosts.find((h) => h.name === host)?.kind === 'Component';
      // A component serves the users of its parent domain (share.example → example), as Prosody's.
      const parent = component ? host.slice(host.indexOf('.') + 1) : host;

      const store = new FileStore(join(ctx.option.get<string>('data_path'), 'http_file_share', encodeName(host)));
      const usage = new Usage(globalQuota);
      const daily = new DailyUse();
      await store.open((f) => {
        usage.stored += charge(f.size);
        if (clock.now() - f.created < DAY) daily.add(f.owner, charge(f.size), f.created);
      });
      const signer = new SlotSigner();
      const expiresMs = expires * 1000;
      ctx.provide('http-route', fileShareRoute({ store, signer, usage, now: () => clock.now(), expiresMs, log: ctx.log }));

      const stop = startExpiry(expires, clock, async (before) => {
        let n = 0;
        for await (const f of store.all()) {
          if (f.created > before) continue;
          await store.remove(f.id);
          usage.removed(charge(f.size));
          n++;
        }
        daily.prune(clock.now());
        return n;
      }, (n) => ctx.log.info(`http_file_share: ${n} expired file(s) removed`), (err) => ctx.log.error({ err }, 'http_file_share: expiry sweep failed'));

      // Discovery: the service's identity, feature and size limit (XEP-0363 §3).
      const form = formElement('result', { formType: NS_UPLOAD, fields: [{ var: 'max-file-size', values: [String(sizeLimit)] }] });
      if (component) {
        // A component has no disco module: it answers for itself.
        ctx.iq('get', 'host', NS.DISCO_INFO, 'query', (ev) => {
          if (ev.stanza.getChild('query')?.attrs.node !== undefined) throw new StanzaError('item-not-found');
          return x('query', { xmlns: NS.DISCO_INFO },
            x('identity', { category: 'store', type: 'file', name: 'HTTP File Upload' }),
            ...[NS.DISCO_INFO, NS.DISCO_ITEMS, NS_UPLOAD].map((v) => x('feature', { var: v })),
            form);
        });
        ctx.iq('get', 'host', NS.DISCO_ITEMS, 'query', () => x('query', { xmlns: NS.DISCO_ITEMS }));
      } else {
        ctx.identity('store', 'file', 'HTTP File Upload');
        ctx.feature(NS_UPLOAD);
        ctx.provide('extension', form);
      }

      const mayUpload = (from: Jid): boolean => from.local !== '' && (from.domain === parent || access.has(from.bare().toString()) || access.has(from.domain));

      ctx.iq('get', 'host', NS_UPLOAD, 'request', (ev): Element => {
        const from = ev.from;
        if (!from || !mayUpload(from)) throw new StanzaError('forbidden', 'this service is for the users of its server');
        const req = ev.stanza.getChild('request', NS_UPLOAD) as Element;
        const filename = req.attrs.filename ?? '';
        const problem = filenameProblem(filename);
        if (problem) throw new StanzaError('bad-request', problem);
        const sizeText = req.attrs.size ?? '';
        const size = /^\d{1,15}$/.test(sizeText) ? Number(sizeText) : NaN;
        if (!(size > 0)) throw new StanzaError('bad-request', 'size must be a positive number of bytes');
        if (size > sizeLimit) {
          throw new StanzaError('not-acceptable', `the file is larger than ${sizeLimit} bytes`, 'modify', x('file-too-large', { xmlns: NS_UPLOAD }, x('max-file-size', null, String(sizeLimit))));
        }
        const type = normaliseType(req.attrs['content-type']);
        if (type === undefined) throw new StanzaError('bad-request', 'malformed content-type');
        if (!typeAllowed(type, allowed)) throw new StanzaError('not-acceptable', `files of type ${type} are not accepted`);
        const owner = from.bare().toString();
        const now = clock.now();
        const cost = charge(size);
        if (daily.used(owner, now) + cost > dailyQuota) throw new StanzaError('resource-constraint', 'your daily upload quota is used up', 'wait');
        if (!usage.fits(cost)) throw new StanzaError('resource-constraint', 'the upload service is full', 'wait');
        if (!daily.add(owner, cost, now)) throw new StanzaError('resource-constraint', 'the upload service is busy', 'wait');
        const id = newId();
        const token = signer.sign({ id, filename, size, type, owner, deadline: now + SLOT_VALIDITY * 1000 });
        const url = `${base}${ROUTE.slice(1)}/${id}/${encodeURIComponent(filename)}`;
        ctx.log.debug({ size, type }, 'upload slot given');
        return x('slot', { xmlns: NS_UPLOAD },
          x('put', { url }, x('header', { name: 'Authorization' }, `Bearer ${token}`)),
          x('get', { url }));
      });
      return stop;
    },
  });
}

export default createHttpFileShare();
