// The per-statement report `clove check` prints: for every statement of every file read (the main
// config and its Includes), what Clove made of it — an option it acts on, one it accepts but
// ignores, one it does not know (with "did you mean"), a section, an Include, a local variable.

/** What became of one statement. */
export interface ReportLine {
  readonly file: string;
  readonly line: number;
  readonly result: 'used' | 'ignored' | 'unknown' | 'section' | 'include' | 'local';
  readonly text: string;
}

const WIDTH = 8;

/** One line per statement: `file:line: result  text`. */
export function formatReport(lines: readonly ReportLine[]): string[] {
  return lines.map((l) => `${l.file}:${l.line}: ${l.result.padEnd(WIDTH)}${l.text}`);
}

/** Counts per result, e.g. "12 used, 3 ignored, 1 unknown". */
export function summariseReport(lines: readonly ReportLine[]): string {
  const count = (r: ReportLine['result']): number => lines.filter((l) => l.result === r).length;
  return (['used', 'ignored', 'unknown'] as const).map((r) => `${count(r)} ${r}`).join(', ');
}
