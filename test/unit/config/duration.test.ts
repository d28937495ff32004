// Prosody's durations (archive_expires_after): "<n>[dwmy]", "never" or seconds.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';

const get = (value: string): number => parseConfig(`archive_expires_after = ${value}`, '/etc/clove/test.cfg.lua').get<number>('archive_expires_after');

describe('duration options', () => {
  it('read as seconds, as Prosody does', () => {
    expect(parseConfig('', '/x.cfg.lua').get('archive_expires_after')).toBe(7 * 86400);
    expect(get('"1d"')).toBe(86400);
    expect(get('"2w"')).toBe(14 * 86400);
    expect(get('"1m"')).toBe(31 * 86400);
    expect(get('"1y"')).toBe(365.2425 * 86400);
    expect(get('"3600"')).toBe(3600);
    expect(get('7200')).toBe(7200);
    expect(get('"1W"')).toBe(7 * 86400);
    expect(get('"never"')).toBe(Infinity);
  });
  it('refuse anything else with the file, line and option', () => {
    for (const bad of ['"soon"', '"1h"', '"-1d"', '-5', 'true', '{ }']) {
      expect(() => get(bad), bad).toThrow(/test\.cfg\.lua:1.*archive_expires_after/);
    }
  });
});
