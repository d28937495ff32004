// Reading passwords for the CLI: a prompt without echo on a terminal, else a line of stdin.
import { createInterface } from 'node:readline';

/** Read one password: prompted twice without echo on a TTY, else (or with --password-stdin) the first line of stdin. */
export async function readPassword(prompt: string, fromStdin = false): Promise<string> {
  if (fromStdin || !process.stdin.isTTY) {
    const line = await firstLine();
    if (line === undefined) throw new Error('no password on standard input');
    return line;
  }
  const first = await promptHidden(prompt);
  const again = await promptHidden('Retype password: ');
  if (first !== again) throw new Error('the passwords do not match');
  return first;
}

async function firstLine(): Promise<string | undefined> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return undefined;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    let value = '';
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return resolve(value);
        }
        if (ch === '\u0003') {
          done();
          return reject(new Error('interrupted'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** Lines of stdin, for --batch. */
export async function* stdinLines(): AsyncGenerator<string> {
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of rl) yield line;
}
