/**
 * "The master", as every client of it sees it: a list of master addresses of
 * which one leads. Calls go to the master believed to lead. A standby
 * refuses with BRAID_ERR_NOT_LEADER and, asked with MasterInfo, names the
 * leader, which the call follows; a master that cannot be reached, or that
 * knows no leader (BRAID_ERR_NO_LEADER), sends the call on to the next
 * address. Once every master has been tried the call waits a little (50 ms,
 * doubling up to 250 ms) and goes round again, until the failover budget is
 * spent: then it fails with BRAID_ERR_MASTER_UNAVAILABLE, naming what each
 * master said. Any other answer, success or failure, is the leader's and is
 * returned as it is.
 *
 * Every master RPC is safe to send twice (registrations and heartbeats are
 * idempotent; a repeated slot request at worst counts a few slots twice in a
 * ledger that the next heartbeats correct), so a call that may or may not
 * have reached a master that then died is simply sent again.
 */
import {
  BraidError,
  ErrorCodes,
  MasterInfo,
  addressKey,
  asBraidError,
  parseAddress,
  type Address,
  type ErrorCode,
  type MasterRole,
  type RpcMethod,
} from '../protocol/index.js';
import { ConnectionPool, type ConnectOptions } from '../transport/index.js';
import type { Logger } from '../log/index.js';

export interface MasterClientOptions {
  /** The masters, in the order to try them first. */
  masters: readonly Address[];
  /** Who this side is (role, application, token) and its connect timeout. */
  connect: ConnectOptions;
  /** How long a call looks for a leader before it fails with BRAID_ERR_MASTER_UNAVAILABLE. */
  failoverTimeoutMs: number;
  log?: Logger;
}

export interface MasterCallOptions {
  /** Timeout of each attempt (the connection's default otherwise). */
  timeoutMs?: number;
  /** This call's failover budget instead of the client's. */
  failoverTimeoutMs?: number;
}

/** Answers that say "not here, or not now": the call goes on to another master. */
const TRY_ANOTHER: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.NOT_LEADER,
  ErrorCodes.NO_LEADER,
  ErrorCodes.CONNECT,
  ErrorCodes.CONNECTION_CLOSED,
  ErrorCodes.PEER_DEAD,
  ErrorCodes.TIMEOUT,
  ErrorCodes.HANDSHAKE,
  ErrorCodes.SHUTTING_DOWN,
]);

/** Longest wait between rounds over the masters: a failover is noticed within this, and a round costs each master one small request. */
const MAX_PAUSE_MS = 250;
/** The shortest time one attempt is given, whatever is left of the budget: a slot request may wait out a grace period. */
const MIN_ATTEMPT_MS = 10_000;

export class MasterClient {
  private readonly pool: ConnectionPool;
  private readonly masters: readonly Address[];
  /** Where calls go now: the leader as far as this client knows. */
  private target: Address;
  /** The master that served the last call, to log when the leader changes. */
  private served: string | undefined;
  private closed = false;

  constructor(private readonly options: MasterClientOptions) {
    if (options.masters.length === 0) throw new BraidError(ErrorCodes.CONFIG, 'at least one master address is needed');
    this.masters = options.masters.map((a) => ({ host: a.host, port: a.port }));
    this.target = this.masters[0]!;
    this.pool = new ConnectionPool(options.connect);
  }

  /** The master that calls go to now. */
  get leader(): Address {
    return this.target;
  }

  get addresses(): readonly Address[] {
    return this.masters;
  }

  /** Calls the leading master, following redirects and riding out a failover within the budget. */
  async call<Req, Res>(method: RpcMethod<Req, Res>, request: Req, options: MasterCallOptions = {}): Promise<Res> {
    const budgetMs = options.failoverTimeoutMs ?? this.options.failoverTimeoutMs;
    const deadline = Date.now() + budgetMs;
    const said = new Map<string, BraidError>();
    let pauseMs = 50;
    for (let attempt = 1; ; attempt++) {
      const target = this.target;
      try {
        const conn = await this.pool.get(target);
        // A master that hangs (a stopped process keeps its connections) may hold a call no longer than the budget.
        const timeoutMs = Math.min(options.timeoutMs ?? conn.options.requestTimeoutMs, Math.max(deadline - Date.now(), MIN_ATTEMPT_MS));
        const res = await conn.call(method, request, timeoutMs);
        this.servedBy(target);
        return res;
      } catch (err) {
        const e = asBraidError(err);
        if (this.closed || !TRY_ANOTHER.has(e.code)) throw e;
        said.set(addressKey(target), e);
        if (e.code !== ErrorCodes.NOT_LEADER && e.code !== ErrorCodes.NO_LEADER) this.pool.evict(target);
        const named = e.code === ErrorCodes.NOT_LEADER ? await this.leaderNamedBy(target) : undefined;
        this.moveOn(target, named);
        // Every master gets a chance, whatever the budget.
        if (Date.now() >= deadline && attempt >= this.masters.length) throw this.unavailable(method.name, budgetMs, said, e);
        if (named === undefined && attempt % this.masters.length === 0) {
          await sleep(Math.min(pauseMs, Math.max(0, deadline - Date.now())));
          pauseMs = Math.min(pauseMs * 2, MAX_PAUSE_MS);
        }
      }
    }
  }

  /** One call to one master, leader or not, without failover (status, MasterInfo). */
  async callOne<Req, Res>(address: Address, method: RpcMethod<Req, Res>, request: Req, timeoutMs?: number): Promise<Res> {
    const conn = await this.pool.get(address);
    return conn.call(method, request, timeoutMs);
  }

  /** What one master says it is: its role, the leader it knows, the leader's term. */
  info(address: Address, timeoutMs?: number): Promise<{ role: MasterRole; leader: string; term: number }> {
    return this.callOne(address, MasterInfo, {}, timeoutMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }

  /** The leader a standby names, if it names one other than itself. */
  private async leaderNamedBy(standby: Address): Promise<Address | undefined> {
    try {
      const { leader } = await this.info(standby, 5000);
      if (leader === '' || leader === addressKey(standby)) return undefined;
      return parseAddress(leader);
    } catch {
      return undefined;
    }
  }

  /** After `failed` did not serve: go to the leader it named, else to the next master of the list. */
  private moveOn(failed: Address, named: Address | undefined): void {
    // Another call may already have moved on.
    if (addressKey(this.target) !== addressKey(failed)) return;
    let next = named;
    if (next === undefined) {
      const i = this.masters.findIndex((m) => addressKey(m) === addressKey(failed));
      next = this.masters[(i + 1) % this.masters.length]!;
    }
    if (addressKey(next) === addressKey(failed)) return;
    this.target = next;
    const log = this.options.log;
    if (log?.isLevelEnabled('debug')) log.debug({ from: addressKey(failed), to: addressKey(next), redirected: named !== undefined }, 'trying another master');
  }

  private servedBy(master: Address): void {
    const key = addressKey(master);
    if (key === this.served) return;
    if (this.served !== undefined) this.options.log?.info({ from: this.served, to: key }, 'the master leader changed');
    this.served = key;
  }

  private unavailable(what: string, budgetMs: number, said: ReadonlyMap<string, BraidError>, last: BraidError): BraidError {
    const details = [...said].map(([addr, e]) => `${addr}: ${e.code} ${e.message}`).join('; ');
    return new BraidError(ErrorCodes.MASTER_UNAVAILABLE, `${what}: no master led and answered within ${budgetMs} ms (${details})`, { retriable: false, cause: last });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
