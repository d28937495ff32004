// The HTTP side of http_file_share: PUT of a slot's file with its token, GET and HEAD of stored
// files, at /file_share/<id>/<name>. Uploads stream to disk (the route reads the body itself);
// downloads stream from disk with headers that keep a browser from running what it gets.
// References: XEP-0363 §5 (upload), §6 (download); RFC 9110 (status codes).
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { HttpError, type HttpRequest, type HttpRoute } from '../../core/http.js';
import type { Logger } from '../../core/log.js';
import type { FileStore } from './files.js';
import { downloadHeaders, isId, normaliseType } from './names.js';
import type { SlotSigner } from './slot-token.js';
import { charge, type Usage } from './usage.js';

/** The route's path (Prosody's). */
export const ROUTE = '/file_share';

export interface TransferDeps {
  store: FileStore;
  signer: SlotSigner;
  usage: Usage;
  now: () => number;
  /** Milliseconds a file is served after its upload (Infinity: until removed). */
  expiresMs: number;
  log: Logger;
}

/** The id and name of `/file_share/<id>/<name>`; 404 for anything else. */
function target(req: HttpRequest): { id: string; name: string } {
  const [id, name, ...more] = req.rest.split('/');
  if (id === undefined || name === undefined || more.length || !isId(id) || name === '') throw new HttpError(404, 'not found');
  return { id, name };
}

/** The `http-route` item of one upload service. */
export function fileShareRoute(deps: TransferDeps): HttpRoute {
  const expired = (created: number): boolean => created + deps.expiresMs <= deps.now();

  const put = async (req: HttpRequest, res: ServerResponse): Promise<void> => {
    const { id, name } = target(req);
    const auth = /^Bearer (\S+)$/.exec(req.raw.headers.authorization ?? '');
    const slot = auth ? deps.signer.verify(auth[1] as string) : undefined;
    const unauthorized = { 'WWW-Authenticate': 'Bearer' };
    if (!slot || slot.id !== id || slot.filename !== name) throw new HttpError(401, 'no valid slot token for this URL', unauthorized);
    if (deps.now() > slot.deadline) throw new HttpError(401, 'the slot has expired', unauthorized);
    if (req.raw.headers['transfer-encoding'] !== undefined || req.raw.headers['content-length'] === undefined) throw new HttpError(411, 'Content-Length is required');
    const length = Number(req.raw.headers['content-length']);
    if (length > slot.size) throw new HttpError(413, `the slot is for ${slot.size} bytes`);
    if (length !== slot.size) throw new HttpError(400, `the slot is for ${slot.size} bytes`);
    const type = req.raw.headers['content-type'];
    if (type !== undefined && normaliseType(type) !== slot.type) throw new HttpError(400, 'Content-Type differs from the slot');
    if (await deps.store.exists(id)) throw new HttpError(409, 'already uploaded');
    const cost = charge(slot.size);
    const refused = deps.usage.begin(id, cost);
    if (refused === 409) throw new HttpError(409, 'an upload to this URL is under way');
    if (refused === 503) throw new HttpError(503, 'too many uploads at once; try again later', { 'Retry-After': '30' });
    if (refused === 507) throw new HttpError(507, 'the upload service is full');
    let kept = false;
    try {
      await deps.store.receive({ id, filename: slot.filename, type: slot.type, size: slot.size, owner: slot.owner }, req.raw, deps.now);
      kept = true;
    } catch (err) {
      // Usually the client went away mid-upload; nothing was kept.
      deps.log.debug({ err: (err as Error).message }, 'upload not completed');
      throw new HttpError(400, 'the upload did not complete');
    } finally {
      deps.usage.end(id, cost, kept);
    }
    res.writeHead(201, { 'Content-Length': '0', 'Cache-Control': 'no-store' });
    res.end();
  };

  const get = async (req: HttpRequest, res: ServerResponse): Promise<void> => {
    const { id, name } = target(req);
    const file = await deps.store.read(id);
    if (!file || file.filename !== name || expired(file.created)) throw new HttpError(404, 'not found');
    const left = Number.isFinite(deps.expiresMs) ? Math.max(0, Math.floor((file.created + deps.expiresMs - deps.now()) / 1000)) : 31_536_000;
    res.writeHead(200, { ...downloadHeaders(file.type, file.filename, file.size), 'Cache-Control': `private, max-age=${left}` });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // The sweep may remove the file between read() and here: the response then ends short.
    await pipeline(deps.store.body(id), res).catch(() => res.destroy());
  };

  return {
    path: ROUTE,
    methods: ['GET', 'HEAD', 'PUT'],
    stream: true,
    handle: (req, res) => (req.method === 'PUT' ? put(req, res) : get(req, res)),
  };
}
