// The request target, checked before any route sees it: routes get a decoded, absolute path
// without dot segments, so no route can be tricked into a parent directory (`..`, `%2e%2e`,
// `%2f`, backslashes, NUL) whatever it does with the path.
// References: RFC 9112 §3.2 (request target), RFC 3986 §3.3 (path segments).

export interface Target { path: string; query: URLSearchParams }

/** The checked path and query of a request target, or undefined for one to refuse with 400. */
export function parseTarget(url: string): Target | undefined {
  let raw = url;
  if (!raw.startsWith('/')) {
    // absolute-form (RFC 9112 §3.2.2): only the path counts; the Host header picks the host.
    if (!/^https?:\/\//i.test(raw)) return undefined;
    const slash = raw.indexOf('/', raw.indexOf('//') + 2);
    raw = slash < 0 ? '/' : raw.slice(slash);
  }
  const q = raw.indexOf('?');
  const pathPart = q < 0 ? raw : raw.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1).split('#')[0]);
  if (pathPart.includes('#') || pathPart.includes('\\')) return undefined;
  const segments = pathPart.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string;
    if (seg === '' && i < segments.length - 1) return undefined; // `//` in the middle
    let decoded: string;
    try {
      decoded = decodeURIComponent(seg);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || /[/\\\0]/.test(decoded)) return undefined;
    out.push(decoded);
  }
  return { path: `/${out.join('/')}`, query };
}

/** Whether `path` is `prefix` or below it (on a `/` boundary). */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/' || prefix === '') return true;
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** The part of `path` below `prefix`, without the leading `/`. */
export function restOf(path: string, prefix: string): string {
  if (prefix === '/' || prefix === '') return path.slice(1);
  return path.slice(prefix.length + 1);
}
