// Preloaded into a child server with NODE_OPTIONS=--import (test/helpers/code-trace.ts): adds
// the loader hook that writes the URL of every ES module the process loads.
import { register } from 'node:module';

register(new URL('./hooks.mjs', import.meta.url));
