/**
 * Run inside a test host: opens one admin connection to a server, leaves it
 * idle for IDLE_MS (longer than the dead-peer timeout), then uses it. Prints
 * {"closedWhileIdle":bool,"answered":bool}. Default liveness settings.
 *
 *   node idle-probe.mjs HOST:PORT IDLE_MS --auth-secret-file F --tls-ca-file F --tls-cert-file F --tls-key-file F
 *   (the cluster's admin security flags, as the CLI takes them)
 */
import { readFileSync } from 'node:fs';
import { connect } from '../../dist/transport/index.js';
import { GetStatus, Role, parseAddress } from '../../dist/protocol/index.js';
import { TlsMaterial } from '../../dist/security/tls.js';

const [address, idleMs, ...flags] = process.argv.slice(2);
const flag = (name) => {
  const at = flags.indexOf(name);
  return at >= 0 ? flags[at + 1] : undefined;
};
const secretFile = flag('--auth-secret-file');
const caFile = flag('--tls-ca-file');
const conn = await connect(parseAddress(address), {
  role: Role.Admin,
  key: secretFile === undefined ? '' : readFileSync(secretFile, 'utf8').trim(),
  tls: caFile === undefined ? undefined : TlsMaterial.fromFiles({ caFile, certFile: flag('--tls-cert-file'), keyFile: flag('--tls-key-file') }),
});
let closedWhileIdle = false;
conn.once('close', () => (closedWhileIdle = true));
await new Promise((r) => setTimeout(r, Number(idleMs)));
let answered = false;
try {
  await conn.call(GetStatus, {});
  answered = true;
} catch {
  answered = false;
}
console.log(JSON.stringify({ closedWhileIdle, answered }));
conn.close();
