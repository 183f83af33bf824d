import { parseAddress, type Address } from '../protocol/index.js';

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
