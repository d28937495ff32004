// Preloaded into a child server with NODE_OPTIONS=--import (test/helpers/code-trace.ts): adds
// the loader hook that writes the URL of every ES module the process loads, and writes the
// names of the Node built-ins loaded so far to `<file>.builtins` every 100 ms. Built-ins
// reached through require() (Clove's own lazy ones, or Node's internals) never pass the loader
// hook; process.moduleLoadList, kept by Node itself, has them all.
import { renameSync, writeFileSync } from 'node:fs';
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));

const out = process.env.CLOVE_TRACE_CODE;
if (out) {
  const builtins = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  const write = () => {
    writeFileSync(`${out}.builtins.tmp`, builtins().join('\n'));
    renameSync(`${out}.builtins.tmp`, `${out}.builtins`); // a reader never sees half a list
  };
  setInterval(write, 100).unref();
}
