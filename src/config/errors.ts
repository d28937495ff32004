// The one error type of the config layer: a single line saying what is wrong and where.

/** Collapse a message to one line so a log line or terminal line stays readable. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ');
}

/**
 * A problem in a config file. `line` is 1-based; 0 means the file as a whole (e.g. unreadable).
 * The message is `<file>:<line>: <what is wrong>` and names the option when one is involved.
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number;
  readonly option?: string;

  constructor(file: string, line: number, what: string, option?: string) {
    const named = option !== undefined && !what.includes(`option '${option}'`) ? ` (option '${option}')` : '';
    const where = line > 0 ? `${file}:${line}` : file;
    super(oneLine(`${where}: ${what}${named}`));
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
    if (option !== undefined) this.option = option;
  }

  /** A config error at an option's source (`config.source(name, host)`: the included file and line it was set on). */
  static at(source: { file: string; line: number }, what: string, option?: string): ConfigError {
    return new ConfigError(source.file, source.line, what, option);
  }
}
