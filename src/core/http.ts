// What a module offers the HTTP service (src/net/http/): routes and XEP-0156 alternative
// connection methods, as items (src/core/items-map.ts), and the error a route throws to answer
// with a status. Core knows no sockets; the listener that serves these lives in net/http.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** One request as a route sees it, after the HTTP service checked its target and picked the host. */
export interface HttpRequest {
  /** The Node request: headers, and for a streaming route the body to read. */
  readonly raw: IncomingMessage;
  readonly method: string;
  /** The decoded path, checked: absolute, no `..` or `.` segments, no NUL or backslash. */
  readonly path: string;
  /** The part of `path` after the route's prefix, without its leading `/` ('' for the prefix itself). */
  readonly rest: string;
  readonly query: URLSearchParams;
  /** The host (VirtualHost or Component name) the request was picked for. */
  readonly host: string;
  /** The whole body, for a route that does not stream (at most its `maxBody` bytes); undefined for a streaming route. */
  readonly body: Buffer | undefined;
}

/**
 * A route a module serves on its host (item kind `http-route`). The service picks the host by
 * the `Host` header, then the route with the longest matching `path` prefix (on a `/` boundary).
 */
export interface HttpRoute {
  /** Path prefix, starting with `/`, without a trailing `/` (e.g. `/file_share`). */
  readonly path: string;
  /** Methods the route takes (`GET`, `HEAD`, `PUT`, …); any other gets 405 with `Allow`. */
  readonly methods: readonly string[];
  /**
   * The route reads `req.raw` itself (uploads): no body limit and no whole-request timeout
   * from the service; the route bounds what it reads. Otherwise the service reads the body,
   * up to `maxBody` (default `http_max_content_size`; 413 beyond) within `http_request_timeout`.
   */
  readonly stream?: boolean;
  /** Largest body this route takes when it does not stream, in bytes. */
  readonly maxBody?: number;
  /** Answer the request; a throw or rejection is a 500 (logged), the route's own answer otherwise. */
  handle(req: HttpRequest, res: ServerResponse): void | Promise<void>;
}

/**
 * An alternative connection method (XEP-0156) a host offers over HTTP (item kind
 * `http-alt-connection`): host-meta lists it with the host's public URL of `path`.
 */
export interface HttpAltConnection {
  /** `urn:xmpp:alt-connections:websocket` or `urn:xmpp:alt-connections:xbosh`. */
  readonly rel: string;
  /** Path on the host's public URL, starting with `/` (e.g. `/xmpp-websocket`). */
  readonly path: string;
}

/** Thrown by a route to answer with this status and a short plain-text reason (never a stack). */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, reason: string, headers: Readonly<Record<string, string>> = {}) {
    super(reason);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}
