/**
 * Bind and advertise. Every role listens on one address (`host`, possibly a
 * wildcard such as 0.0.0.0) and tells its peers another: `advertiseHost`, or
 * the address of the network interface `advertiseInterface`, or else `host`
 * itself. A wildcard means nothing to a peer, and a loopback address means
 * "yourself" to a peer on another host: a configuration that would send
 * either across hosts is refused at start, naming the option to change.
 */
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { BraidError, ErrorCodes } from '../protocol/index.js';

export interface AdvertiseOptions {
  /** The address the role listens on. */
  host: string;
  /** The host peers are told to connect to. */
  advertiseHost?: string | undefined;
  /** Or: advertise the address of this network interface (e.g. eth0). */
  advertiseInterface?: string | undefined;
}

export interface AdvertiseContext {
  /** 'worker', 'master', 'lifecycle manager': said in messages. */
  role: string;
  /**
   * The master this role talks to, when it has one. A role advertising a
   * loopback address is fine only while its master is on loopback too:
   * then the whole cluster runs on this one host.
   */
  master?: string | undefined;
}

const WILDCARDS: ReadonlySet<string> = new Set(['', '0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0']);

export function isWildcard(host: string): boolean {
  return WILDCARDS.has(host.trim());
}

export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.substring(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

function refuse(option: string, message: string): never {
  throw new BraidError(ErrorCodes.CONFIG, `option "${option}": ${message}`, { retriable: false });
}

/** The IPv4 address of a named interface (else its first global IPv6 one). */
export function interfaceAddress(name: string): string {
  const all = networkInterfaces();
  const addrs = all[name];
  if (addrs === undefined) refuse('advertiseInterface', `no network interface named "${name}" on this host (it has: ${Object.keys(all).join(', ') || 'none'})`);
  const v4 = addrs.find((a) => a.family === 'IPv4');
  const v6 = addrs.find((a) => a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80:'));
  const found = v4 ?? v6;
  if (found === undefined) refuse('advertiseInterface', `interface "${name}" has no IPv4 or global IPv6 address`);
  return found.address;
}

/**
 * The host this role advertises, or a BRAID_ERR_CONFIG naming the option that
 * would make peers connect to a wildcard or to their own loopback.
 */
export function advertisedHost(o: AdvertiseOptions, ctx: AdvertiseContext): string {
  const explicit = o.advertiseHost !== undefined && o.advertiseHost !== '';
  const byInterface = o.advertiseInterface !== undefined && o.advertiseInterface !== '';
  if (explicit && byInterface) refuse('advertiseHost', 'set advertiseHost or advertiseInterface, not both');
  const option = explicit ? 'advertiseHost' : byInterface ? 'advertiseInterface' : 'host';
  const host = explicit ? o.advertiseHost!.trim() : byInterface ? interfaceAddress(o.advertiseInterface!) : o.host;
  if (isWildcard(host)) {
    refuse(
      option,
      option === 'host'
        ? `"${o.host}" listens on every interface but is no address a peer can connect to; set advertiseHost (or advertiseInterface) to the address peers reach this ${ctx.role} at`
        : `"${host}" is a wildcard address; advertise an address peers can connect to`,
    );
  }
  if (isLoopback(host) && ctx.master !== undefined && !isLoopback(hostOf(ctx.master))) {
    refuse(
      option,
      `"${host}" is a loopback address, but the master ${ctx.master} is on another host, where "${host}" means that host itself; ` +
        `listen on a reachable address (host) or set advertiseHost/advertiseInterface`,
    );
  }
  if (isLoopback(o.host) && !isLoopback(host)) {
    refuse('host', `"${o.host}" accepts connections from this host only, but this ${ctx.role} advertises "${host}" to others; listen on "${host}" or on 0.0.0.0`);
  }
  return host;
}

/** `host` of a 'host:port' string. */
function hostOf(address: string): string {
  const i = address.lastIndexOf(':');
  return i < 0 ? address : address.substring(0, i);
}

/**
 * The local address this host uses to reach `host` (routing only: a UDP
 * socket is "connected", which sends nothing). A driver's LifecycleManager
 * listens there by default, so that executors on other hosts can reach it
 * whenever they can reach the master.
 */
export async function localAddressTowards(host: string): Promise<string> {
  const family = isIP(host) === 6 ? 'udp6' : 'udp4';
  const socket = createSocket(family);
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(9, host, () => resolve(socket.address().address));
    });
  } catch (err) {
    throw new BraidError(ErrorCodes.CONFIG, `cannot tell which local address reaches the master host "${host}": ${(err as Error).message}; set host`, { cause: err });
  } finally {
    socket.close();
  }
}
