// The benchmark's user accounts, and their SCRAM-SHA-1 keys in Prosody's internal_hashed form.
//
// Prosody 0.12 (mod_auth_internal_hashed + util/sasl/scram.lua, read from /usr/lib/prosody):
//   salt            = a UUID v4 string, used as-is (its ASCII bytes) as the PBKDF2 salt
//   salted          = PBKDF2-HMAC-SHA1(saslprep(password), salt, iteration_count, 20 bytes)
//   stored_key      = hex(SHA1(HMAC(salted, "Client Key")))   -- lower-case hex (util/hex.lua)
//   server_key      = hex(HMAC(salted, "Server Key"))
//   iteration_count = option default_iteration_count, default 10000
// Writing the files directly is ~1000x faster than one `prosodyctl adduser` per account.
// References: RFC 5802 (SCRAM keys).

import crypto from 'node:crypto';
import fs from 'node:fs';

const PROSODY_AUTH_MODULE = '/usr/lib/prosody/modules/mod_auth_internal_hashed.lua';

/** Prosody's default SCRAM iteration count, read from its installed source (10000 if unreadable). */
export function prosodyDefaultIterations() {
  try {
    const src = fs.readFileSync(PROSODY_AUTH_MODULE, 'utf8');
    const m = /get_option_number\(\s*"default_iteration_count"\s*,\s*(\d+)\s*\)/.exec(src);
    if (m) return { iterations: Number(m[1]), source: PROSODY_AUTH_MODULE };
  } catch {
    // fall through
  }
  return { iterations: 10000, source: 'assumed (Prosody source not readable)' };
}

/** The accounts used by every phase: user0…user{n-1}@domain, each with its own password. */
export function makeUsers(n) {
  const users = [];
  for (let i = 0; i < n; i++) users.push({ user: `user${i}`, password: `bench-pw-${i}-x7` });
  return users;
}

function pbkdf2(password, salt, iterations) {
  return new Promise((resolve, reject) =>
    crypto.pbkdf2(password, salt, iterations, 20, 'sha1', (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Prosody internal_hashed records for `users` (computed on libuv's thread pool). */
export async function prosodyCredentials(users, iterations) {
  return Promise.all(
    users.map(async ({ user, password }) => {
      const salt = crypto.randomUUID();
      // Our passwords are ASCII without spaces or controls, so SASLprep leaves them unchanged.
      const salted = await pbkdf2(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations);
      const clientKey = crypto.createHmac('sha1', salted).update('Client Key').digest();
      const storedKey = crypto.createHash('sha1').update(clientKey).digest('hex');
      const serverKey = crypto.createHmac('sha1', salted).update('Server Key').digest('hex');
      return { user, salt, storedKey, serverKey, iterations };
    }),
  );
}

/** Prosody's datamanager file-name encoding (util/datamanager.lua: every %W byte → %xx). */
export function prosodyPathEncode(s) {
  return Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[^A-Za-z0-9]/g, (c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0'));
}

function luaString(s) {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c).replace(/\n/g, '\\n') + '"';
}

/** Writes <dataPath>/<host>/accounts/<user>.dat the way Prosody's internal storage does. */
export function writeProsodyAccounts(dataPath, host, creds) {
  const dir = `${dataPath}/${prosodyPathEncode(host)}/accounts`;
  fs.mkdirSync(dir, { recursive: true });
  for (const c of creds) {
    const body =
      'return {\n' +
      `\t["iteration_count"] = ${c.iterations};\n` +
      `\t["salt"] = ${luaString(c.salt)};\n` +
      `\t["server_key"] = ${luaString(c.serverKey)};\n` +
      `\t["stored_key"] = ${luaString(c.storedKey)};\n` +
      '};\n';
    fs.writeFileSync(`${dir}/${prosodyPathEncode(c.user)}.dat`, body);
  }
}
