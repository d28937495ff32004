// Reading the operator's pages in tests: one sample's value from an OpenMetrics text, and a GET
// from a chosen loopback address (the allow list is by source address).
import { request } from 'node:http';
import type { HttpAnswer } from './http.js';

/** The value of one sample line (`name{labels}` exactly as exposed), 0 when absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** GET `path` on 127.0.0.1:`port` from the loopback address `from`, on a fresh connection. */
export function getFrom(port: number, path: string, headers: Record<string, string> = {}, from = '127.0.0.1'): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from, agent: false, headers: { Host: 'localhost', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** GET /metrics from 127.0.0.1, which must answer 200 with OpenMetrics; its text. */
export async function scrapeMetrics(port: number): Promise<string> {
  const r = await getFrom(port, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body.toString()}`);
  if (!/^application\/openmetrics-text; version=1\.0\.0/.test(r.headers['content-type'] ?? '')) throw new Error(`/metrics content type ${r.headers['content-type']}`);
  return r.body.toString('utf8');
}
