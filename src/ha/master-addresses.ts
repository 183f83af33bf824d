import { parseAddress, type Address } from '../protocol/index.js';
import { isLoopback } from '../transport/advertise.js';

/**
 * How callers name the masters: one address, `host:port`, a comma separated
 * list of them, or a list of addresses. With high availability every master
 * of the cluster is listed; any one of them leads.
 */
export type MasterAddresses = Address | string | readonly (Address | string)[];

function one(value: Address | string): Address {
  if (typeof value === 'string') return parseAddress(value.trim());
  const { host, port } = value;
  if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new RangeError(`bad address ${JSON.stringify(value)}, expected host:port`);
  }
  return { host, port };
}

/** The masters as a list (duplicates dropped); throws RangeError on anything that is not an address. */
export function parseMasters(value: MasterAddresses): Address[] {
  const items = typeof value === 'string' ? value.split(',').filter((s) => s.trim() !== '') : Array.isArray(value) ? value : [value as Address];
  const seen = new Map<string, Address>();
  for (const item of items) {
    const a = one(item);
    seen.set(`${a.host}:${a.port}`, a);
  }
  if (seen.size === 0) throw new RangeError('no master address given');
  return [...seen.values()];
}

/**
 * The master that stands for the list when a role decides which network it
 * lives on (what to listen on, whether advertising loopback is safe): the
 * first master on another host, else the first. The masters of one cluster
 * share a network, so any remote one tells the same.
 */
export function masterForNetwork(masters: readonly Address[]): Address | undefined {
  return masters.find((m) => !isLoopback(m.host)) ?? masters[0];
}
