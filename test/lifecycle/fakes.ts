/**
 * Loopback stand-ins for the master and the workers, as far as a
 * LifecycleManager talks to them: real TransportServers on port 0 answering
 * the control methods with simple rules and recording every call.
 */
import { afterEach, beforeEach } from 'vitest';
import { LifecycleManager, type LifecycleManagerOptions } from '../../src/client/lifecycle/index.js';
import {
  ApplicationHeartbeat,
  BraidError,
  CommitFiles,
  DestroySlots,
  ErrorCodes,
  MessageType,
  RequestSlots,
  ReserveSlots,
  Role,
  UnregisterShuffle,
  addressKey,
  type Address,
  type CommittedFileInfo,
  type FileId,
  type RequestOf,
  type Slot,
} from '../../src/protocol/index.js';
import { RpcRouter, TransportServer, connect, type Connection } from '../../src/transport/index.js';

export type RequestSlotsCall = RequestOf<typeof RequestSlots>;
export type ReserveCall = RequestOf<typeof ReserveSlots>;
export type CommitCall = RequestOf<typeof CommitFiles>;
export type DestroyCall = RequestOf<typeof DestroySlots>;
export type UnregisterCall = RequestOf<typeof UnregisterShuffle>;
export type HeartbeatCall = RequestOf<typeof ApplicationHeartbeat>;

export function fileKey(f: { partitionId: number; epoch: number; mode: number }): string {
  return `${f.partitionId}/${f.epoch}/${f.mode}`;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function serve(role: Role, router: RpcRouter): Promise<TransportServer> {
  return TransportServer.listen({
    role,
    onRequest(message, conn) {
      if (message.type === MessageType.RpcRequest) router.dispatch(message, conn);
    },
  });
}

/** Counts how many calls overlap in time, across several fakes. */
export class ConcurrencyProbe {
  active = 0;
  max = 0;
  async around<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    this.max = Math.max(this.max, this.active);
    try {
      return await fn();
    } finally {
      this.active--;
    }
  }
}

/** Slots round-robin over the workers that are not excluded; a replica always on the next other worker. */
export class FakeMaster {
  readonly requestSlots: RequestSlotsCall[] = [];
  readonly heartbeats: HeartbeatCall[] = [];
  readonly unregisters: UnregisterCall[] = [];
  private next = 0;
  private server!: TransportServer;

  constructor(private readonly workers: () => Address[]) {}

  static async start(workers: () => Address[]): Promise<FakeMaster> {
    const m = new FakeMaster(workers);
    const router = new RpcRouter()
      .on(RequestSlots, (req) => m.allocate(req))
      .on(ApplicationHeartbeat, (req) => {
        m.heartbeats.push(req);
        return {};
      })
      .on(UnregisterShuffle, (req) => {
        m.unregisters.push(req);
        return {};
      });
    m.server = await serve(Role.Master, router);
    return m;
  }

  get address(): Address {
    return this.server.address;
  }

  private allocate(req: RequestSlotsCall): { slots: Slot[]; spareWorkers: Address[] } {
    this.requestSlots.push(req);
    const excluded = new Set(req.excluded.map(addressKey));
    const usable = this.workers().filter((w) => !excluded.has(addressKey(w)));
    if (usable.length < (req.replicate ? 2 : 1)) {
      throw new BraidError(ErrorCodes.SLOTS_UNAVAILABLE, `${usable.length} usable workers for replicate=${req.replicate}`);
    }
    const slots: Slot[] = [];
    for (let i = 0; i < req.count; i++) {
      const at = this.next++ % usable.length;
      slots.push({ primary: usable[at]!, replica: req.replicate ? usable[(at + 1) % usable.length] : undefined });
    }
    return { slots, spareWorkers: [] };
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

export interface FakeWorkerOptions {
  /** Shared by the workers of a cluster: overlap of CommitFiles calls. */
  probe?: ConcurrencyProbe;
  /** Shared by the workers of a cluster: overlap of ReserveSlots calls. */
  reserveProbe?: ConcurrencyProbe;
}

/** Reserves, commits, destroys and unregisters files, recording each call; failures are switched on per test. */
export class FakeWorker {
  readonly reserves: ReserveCall[] = [];
  readonly commits: CommitCall[] = [];
  readonly destroys: DestroyCall[] = [];
  readonly unregisters: UnregisterCall[] = [];
  /** Files currently reserved here, by fileKey. */
  readonly reserved = new Map<string, FileId>();
  /** Refuse every ReserveSlots. */
  failReserve = false;
  /** Answer CommitFiles with an RPC failure (as a dead worker would). */
  failCommit = false;
  /** Files whose commit fails (listed in `failed`), by fileKey. */
  readonly failCommitFiles = new Set<string>();
  commitDelayMs = 0;
  reserveDelayMs = 0;
  private server!: TransportServer;

  static async start(options: FakeWorkerOptions = {}): Promise<FakeWorker> {
    const w = new FakeWorker();
    const probe = options.probe ?? new ConcurrencyProbe();
    const reserveProbe = options.reserveProbe ?? new ConcurrencyProbe();
    const router = new RpcRouter()
      .on(ReserveSlots, (req) =>
        reserveProbe.around(async () => {
          w.reserves.push(req);
          if (w.reserveDelayMs > 0) await sleep(w.reserveDelayMs);
          if (w.failReserve) throw new BraidError(ErrorCodes.RESERVE_FAILED, 'fake worker refuses reservations');
          for (const f of req.files) w.reserved.set(fileKey(f), { partitionId: f.partitionId, epoch: f.epoch, mode: f.mode });
          return {};
        }),
      )
      .on(CommitFiles, (req) =>
        probe.around(async () => {
          w.commits.push(req);
          if (w.commitDelayMs > 0) await sleep(w.commitDelayMs);
          if (w.failCommit) throw new BraidError(ErrorCodes.WRITE_FAILED, 'fake worker cannot commit');
          const committed: CommittedFileInfo[] = [];
          const failed: FileId[] = [];
          for (const f of req.files) {
            if (w.failCommitFiles.has(fileKey(f))) failed.push(f);
            else committed.push({ ...f, ...fakeCommittedSize(f) });
          }
          return { committed, failed };
        }),
      )
      .on(DestroySlots, (req) => {
        w.destroys.push(req);
        for (const f of req.files) w.reserved.delete(fileKey(f));
        return {};
      })
      .on(UnregisterShuffle, (req) => {
        w.unregisters.push(req);
        return {};
      });
    w.server = await serve(Role.Worker, router);
    return w;
  }

  get address(): Address {
    return this.server.address;
  }

  get key(): string {
    return addressKey(this.address);
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

/** Deterministic sizes so tests can predict the reducer file group: 3 chunks of (partition+1)*10 bytes, epoch adds 1000. */
export function fakeCommittedSize(f: FileId): { bytes: number; chunkOffsets: number[]; mapIds: number[] } {
  const unit = (f.partitionId + 1) * 10 + f.epoch * 1000;
  return { bytes: unit * 3, chunkOffsets: [0, unit, unit * 2, unit * 3], mapIds: [] };
}

export interface FakeCluster {
  master: FakeMaster;
  workers: FakeWorker[];
  probe: ConcurrencyProbe;
  reserveProbe: ConcurrencyProbe;
  workerByKey(key: string): FakeWorker;
  close(): Promise<void>;
}

export async function startCluster(numWorkers = 3): Promise<FakeCluster> {
  const probe = new ConcurrencyProbe();
  const reserveProbe = new ConcurrencyProbe();
  const workers: FakeWorker[] = [];
  for (let i = 0; i < numWorkers; i++) workers.push(await FakeWorker.start({ probe, reserveProbe }));
  const master = await FakeMaster.start(() => workers.map((w) => w.address));
  return {
    master,
    workers,
    probe,
    reserveProbe,
    workerByKey(key) {
      const w = workers.find((x) => x.key === key);
      if (w === undefined) throw new Error(`no fake worker at ${key}`);
      return w;
    },
    async close() {
      await master.close();
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}

/** A task-side connection to a lifecycle manager, declaring `appId` in its handshake. */
export function connectClient(address: Address, appId: string): Promise<Connection> {
  return connect(address, { role: Role.Client, appId });
}

/** Keeps what a test started so afterEach can close it all. */
export class Closer {
  private readonly items: { close(): Promise<void> }[] = [];
  add<T extends { close(): Promise<void> }>(item: T): T {
    this.items.push(item);
    return item;
  }
  addConnection(conn: Connection): Connection {
    this.items.push({ close: async () => conn.close() });
    return conn;
  }
  async closeAll(): Promise<void> {
    const items = this.items.splice(0).reverse();
    for (const item of items) await item.close();
  }
}

export interface LifecycleEnv {
  readonly closer: Closer;
  /** A fresh fake master and workers for every test. */
  readonly cluster: FakeCluster;
  /** Starts a LifecycleManager on the cluster, closed after the test. */
  start(extra?: Partial<LifecycleManagerOptions>): Promise<LifecycleManager>;
}

/**
 * Registers, in the calling describe block, a fake cluster per test and
 * cleanup of everything started on it. `defaults` are LifecycleManager
 * options read at each start (so they may use per-test state).
 */
export function useLifecycleEnv(appId: string, defaults: () => Partial<LifecycleManagerOptions> = () => ({}), workers = 3): LifecycleEnv {
  const closer = new Closer();
  let cluster: FakeCluster | undefined;
  beforeEach(async () => {
    cluster = closer.add(await startCluster(workers));
  });
  afterEach(() => closer.closeAll());
  const env: LifecycleEnv = {
    closer,
    get cluster(): FakeCluster {
      if (cluster === undefined) throw new Error('no cluster outside a test');
      return cluster;
    },
    start: async (extra = {}) =>
      // The fakes run without authentication, so the manager must too (unless a test gives it a key).
      closer.add(await LifecycleManager.start({ appId, master: env.cluster.master.address, heartbeatIntervalMs: 60_000, ...(extra.authToken ? {} : { insecure: true }), ...defaults(), ...extra })),
  };
  return env;
}
