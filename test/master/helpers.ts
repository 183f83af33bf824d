import { afterEach } from 'vitest';
import {
  ApplicationHeartbeat,
  GetStatus,
  RegisterWorker,
  RequestSlots,
  Role,
  UnregisterShuffle,
  WorkerHeartbeat,
  addressKey,
  parseAddress,
  type Address,
  type DiskInfo,
} from '../../src/protocol/index.js';
import { startMaster, type MasterHandle, type MasterOptions, type MasterStatus } from '../../src/server/master/index.js';
import { connect, type Connection } from '../../src/transport/index.js';

const masters: MasterHandle[] = [];
const conns: Connection[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const c of conns.splice(0)) c.close();
  await Promise.all(masters.splice(0).map((m) => m.close()));
});

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Repeats `f` every `ms` until the test ends. */
export function every(ms: number, f: () => unknown): void {
  const t = setInterval(() => void Promise.resolve().then(f).catch(() => undefined), ms);
  timers.push(t);
}

/** A master on port 0; without a secret it runs insecure (these tests are not about authentication). */
export async function master(options: MasterOptions = {}): Promise<MasterHandle> {
  const m = await startMaster(options.authSecret ? options : { insecure: true, ...options });
  masters.push(m);
  return m;
}

export async function client(m: MasterHandle, role: number = Role.Worker, extra: { key?: string; appId?: string } = {}): Promise<Connection> {
  const c = await connect(m.address, { role: role as Role, ...extra });
  conns.push(c);
  return c;
}

export function disk(freeBytes = 1e12, healthy = true, path = '/data/0'): DiskInfo {
  return { path, totalBytes: 2e12, freeBytes, healthy };
}

/** A worker as the master sees it: an address in the messages, speaking over a real connection. */
export class FakeWorker {
  readonly address: Address;
  activeShuffleKeys: string[] = [];
  essAppIds: string[] = [];
  /** Files held per shuffle key, reported with the heartbeat (0 when absent). */
  slots = new Map<string, number>();
  disks: DiskInfo[] = [disk()];
  shuttingDown = false;

  constructor(
    readonly conn: Connection,
    address: string,
  ) {
    this.address = parseAddress(address);
  }

  get key(): string {
    return addressKey(this.address);
  }

  register(): Promise<{ heartbeatIntervalMs: number }> {
    return this.conn.call(RegisterWorker, { address: this.address, disks: this.disks });
  }

  heartbeat(): Promise<{ registered: boolean; expiredShuffleKeys: string[]; expiredAppIds: string[] }> {
    return this.conn.call(WorkerHeartbeat, {
      address: this.address,
      disks: this.disks,
      activeShuffleKeys: this.activeShuffleKeys,
      shuttingDown: this.shuttingDown,
      essAppIds: this.essAppIds,
      shuffleSlots: this.activeShuffleKeys.map((k) => this.slots.get(k) ?? 0),
    });
  }
}

export async function workers(m: MasterHandle, ...addresses: string[]): Promise<FakeWorker[]> {
  const conn = await client(m, Role.Worker);
  const ws = addresses.map((a) => new FakeWorker(conn, a));
  for (const w of ws) await w.register();
  return ws;
}

/** A LifecycleManager's view of the master. */
export class FakeLifecycle {
  constructor(
    readonly conn: Connection,
    readonly appId: string,
  ) {}

  slots(shuffleId: number, count: number, replicate = false, excluded: string[] = []) {
    return this.conn.call(RequestSlots, { appId: this.appId, shuffleId, count, replicate, excluded: excluded.map(parseAddress) });
  }

  heartbeat(shuffleIds: number[] = []): Promise<object> {
    return this.conn.call(ApplicationHeartbeat, { appId: this.appId, shuffleIds });
  }

  unregister(shuffleId: number): Promise<object> {
    return this.conn.call(UnregisterShuffle, { appId: this.appId, shuffleId });
  }

  async status(): Promise<MasterStatus> {
    const { json } = await this.conn.call(GetStatus, {});
    return JSON.parse(json.toString('utf8')) as MasterStatus;
  }
}

export async function lifecycle(m: MasterHandle, appId = 'app_1'): Promise<FakeLifecycle> {
  return new FakeLifecycle(await client(m, Role.LifecycleManager, { appId }), appId);
}

export const keyOf = (a: Address | undefined): string => (a === undefined ? 'none' : addressKey(a));

export function count<T>(items: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const i of items) m.set(i, (m.get(i) ?? 0) + 1);
  return m;
}
