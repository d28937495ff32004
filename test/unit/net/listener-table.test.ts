// compactListenerTable: a TLS socket's listener table re-made as an ordinary object keeps every
// listener working, and V8 then holds it in fast mode instead of as a dictionary (checked in a
// child Node with --allow-natives-syntax, which the test runner does not have).
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { compactListenerTable } from '../../../src/net/listener-table.js';

const run = promisify(execFile);
const TABLE_JS = pathToFileURL(fileURLToPath(new URL('../../../dist/net/listener-table.js', import.meta.url))).href;

describe('compactListenerTable', () => {
  it('keeps on, once, off and symbol-named listeners working', () => {
    const e = new EventEmitter();
    const seen: string[] = [];
    const onData = (x: string): void => void seen.push(`data ${x}`);
    const sym = Symbol('s');
    e.on('data', onData);
    e.on('error', () => seen.push('error 1'));
    e.on('error', () => seen.push('error 2'));
    e.once('close', () => seen.push('close'));
    e.on(sym, () => seen.push('symbol'));
    compactListenerTable(e);
    e.emit('data', 'a');
    e.emit('error', new Error('x'));
    e.emit('close');
    e.emit('close');
    e.emit(sym);
    e.off('data', onData);
    e.emit('data', 'b');
    e.on('end', () => seen.push('end'));
    e.emit('end');
    expect(seen).toEqual(['data a', 'error 1', 'error 2', 'close', 'symbol', 'end']);
    expect(e.listenerCount('data')).toBe(0);
    expect(e.listenerCount('error')).toBe(2);
    expect(e.eventNames()).toEqual(expect.arrayContaining(['error', 'end', sym]));
  });

  it('turns the dictionary node:events made into a fast-mode object (a TLS socket, as Clove wraps one)', async () => {
    const script = `
      import tls from 'node:tls';
      import net from 'node:net';
      const { compactListenerTable } = await import(${JSON.stringify(TABLE_JS)});
      const t = new tls.TLSSocket(new net.Socket(), { isServer: true });
      for (const ev of ['data', 'drain', 'error', 'close', 'secure']) t.on(ev, () => {});
      const before = %HasFastProperties(t._events);
      compactListenerTable(t);
      console.log(JSON.stringify({ before, after: %HasFastProperties(t._events), keys: Object.keys(t._events).length }));
      t.destroy();`;
    const { stdout } = await run(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { timeout: 30_000 });
    const r = JSON.parse(stdout) as { before: boolean; after: boolean; keys: number };
    expect(r.before).toBe(false);
    expect(r.after).toBe(true);
    expect(r.keys).toBeGreaterThanOrEqual(5);
  });
});
