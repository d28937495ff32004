// Damaged configs must fail with a ConfigError (one line, file:line), never anything else.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/config/errors.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const F = 'fuzz.cfg.lua';

/** A small deterministic PRNG so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function check(text: string): void {
  try {
    parseConfig(text, F);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`non-ConfigError for ${JSON.stringify(text)}: ${String(err)}`);
    expect(err.message).not.toMatch(/\n/);
    expect(err.message.startsWith(`${F}:`)).toBe(true);
    expect(err.line).toBeGreaterThanOrEqual(1);
    expect(err.line).toBeLessThanOrEqual(text.split(/\r\n|\n|\r/).length);
  }
}

const extra = `
darknet_map = { ["a.example"] = "x.b32.i2p"; ["b.example"] = { host = "y.b32.i2p"; port = 5269 } }
log = { error = "/tmp/err"; { to = "console"; levels = { min = "info" } }; "*syslog" }
s = [==[ long ]] string ]==] --[[ block
comment ]] t = 'esc \\x41\\65\\u{263A}\\z
   tail' n = { -1, 0x1F, 1.5e3, .5 }
local MiB = 1024 * 1024
local name = "x" .. 2 ^ 2 .. (ENV_CLOVE_FUZZ_UNSET or "d")
c2s_stanza_size_limit = (MiB // 4) % 700000 + -(-2)
u = { size = 10 * MiB / 2, name .. "!", #name, not nil and 1 < 2, [1 + 1 .. ""] = "k" }
Component "muc.localhost" "muc"
Component("ext.localhost")
`;

describe('fuzz', () => {
  it('every truncation of the shipped configs throws only ConfigError', async () => {
    for (const file of ['config/clove.cfg.lua', 'config/prosody.cfg.lua']) {
      const text = (await readFile(join(root, file), 'utf8')) + extra;
      for (let i = 0; i <= text.length; i++) check(text.slice(0, i));
    }
  });

  it('random mutations throw only ConfigError', async () => {
    const text = (await readFile(join(root, 'config/prosody.cfg.lua'), 'utf8')) + extra;
    const alphabet = '{}[]()=;,."\'\\-\n \t0x9eE+*.abz_/%^#<>~&|';
    const random = rng(20240601);
    for (let n = 0; n < 3000; n++) {
      const chars = [...text];
      const edits = 1 + Math.floor(random() * 4);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(random() * chars.length);
        const op = random();
        if (op < 0.4) chars.splice(at, 1);
        else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(random() * alphabet.length)] as string);
        else chars.splice(at, 1 + Math.floor(random() * 20));
      }
      check(chars.join(''));
    }
  });
});
