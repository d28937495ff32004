// What every Prosody-against-Clove bench does before its first server starts: the run's record
// (date, machine, pinning), which servers to run, a self-signed certificate for the domain,
// Prosody's hashed credentials for the users (only when Prosody runs), and the load generator
// pinned to its own CPU.

import path from 'node:path';
import { prosodyCredentials, prosodyDefaultIterations } from './accounts.mjs';
import { makeSelfSigned } from './certs.mjs';
import * as cli from './cli.mjs';
import { GENERATOR_CPU, SERVER_CPU } from './cli.mjs';

/**
 * Set up a run of bench `tag`: `users` log in to every server (`prosodyUsers`, default `users`,
 * get Prosody credentials); `order` fixes the servers' order when given. Returns startRun's
 * record, the wanted server names and `shared` ({ certDir, users, prosodyCreds, pin }).
 */
export async function benchSetup({ tag, opt, tmpRoot, say, domain, users, prosodyUsers = users, order }) {
  const run = cli.startRun(opt, say);
  const chosen = cli.wantedServers(tag, opt.server);
  const wanted = order ? order.filter((n) => chosen.includes(n)) : chosen;
  const certDir = path.join(tmpRoot, 'certs');
  makeSelfSigned(certDir, domain);
  let prosodyCreds = [];
  if (wanted.includes('prosody')) {
    const t0 = Date.now();
    prosodyCreds = await prosodyCredentials(prosodyUsers, prosodyDefaultIterations().iterations);
    say(`hashed ${prosodyUsers.length} Prosody credentials in ${Date.now() - t0} ms`);
  }
  cli.pinGenerator(run.pin, say, `generator pinned to CPU ${GENERATOR_CPU}; servers go on CPU ${SERVER_CPU}`);
  return { ...run, wanted, shared: { certDir, users, prosodyCreds, pin: run.pin } };
}
