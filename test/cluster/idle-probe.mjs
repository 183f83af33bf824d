/**
 * Run inside a test host: opens one admin connection to a server, leaves it
 * idle for IDLE_MS (longer than the dead-peer timeout), then uses it. Prints
 * {"closedWhileIdle":bool,"answered":bool}. Default liveness settings.
 *
 *   node idle-probe.mjs HOST:PORT IDLE_MS [--auth-token SECRET]   (the cluster's client security flags)
 */
import { connect } from '../../dist/transport/index.js';
import { GetStatus, Role, parseAddress } from '../../dist/protocol/index.js';

const [address, idleMs, ...flags] = process.argv.slice(2);
const at = flags.indexOf('--auth-token');
const token = at >= 0 ? flags[at + 1] : '';
const conn = await connect(parseAddress(address), { role: Role.Admin, token });
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
