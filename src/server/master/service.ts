import { rootLogger, type Logger } from '../../log/index.js';
import {
  BraidError,
  ErrorCodes,
  addressKey,
  type Address,
  type ApplicationHeartbeat,
  type RegisterWorker,
  type RequestOf,
  type RequestSlots,
  type ResponseOf,
  type UnregisterShuffle,
  type WorkerHeartbeat,
} from '../../protocol/index.js';
import { AppRegistry } from './app-registry.js';
import { GracePeriod } from './grace-period.js';
import { MasterQuotas } from './quotas.js';
import type { ResolvedMasterOptions } from './options.js';
import { allocateSlots, createStrategy, type Candidate, type SlotStrategy } from './slot-allocator.js';
import { SlotLedger } from './slot-ledger.js';
import { buildStatus, type ServiceStatus } from './status.js';
import { WorkerRegistry, freeBytes } from './worker-registry.js';


/** Upper bound on slots in one request: the answer must fit in one frame. */
export const MAX_SLOTS_PER_REQUEST = 500_000;

function invalid(message: string): BraidError {
  return new BraidError(ErrorCodes.INVALID_REQUEST, message, { retriable: false });
}

function checkAddress(a: Address, what: string): void {
  if (a.host === '' || a.port === 0) throw invalid(`${what}: bad address "${addressKey(a)}"`);
}

function checkAppId(appId: string, what: string): void {
  if (appId === '') throw invalid(`${what}: empty appId`);
}

/**
 * The master's soft state and its answers to the control RPCs, without I/O:
 * the transport feeds it decoded requests. Everything here can be rebuilt
 * from worker and application heartbeats after a restart, and a new leader
 * starts with a fresh one.
 *
 * Grace: for up to `graceMs` after it starts (see GracePeriod), the
 * service is rebuilding its view. An unknown worker's heartbeat then
 * registers it (it carries all a registration does), and the server holds
 * slot requests until the grace period is over. For `appTimeoutMs` after the
 * start, shuffles of applications it has not heard of are not deleted.
 */
export class MasterService {
  readonly workers: WorkerRegistry;
  readonly apps: AppRegistry;
  readonly ledger = new SlotLedger();
  private readonly strategy: SlotStrategy;
  readonly startedAt: number;
  readonly grace: GracePeriod;
  readonly quotas: MasterQuotas;

  constructor(
    private readonly options: ResolvedMasterOptions,
    private readonly address: Address,
    private readonly log: Logger = rootLogger().child({ role: 'master' }),
    graceMs = 0,
  ) {
    this.startedAt = options.now();
    this.grace = new GracePeriod(graceMs, this.startedAt, options.now);
    this.workers = new WorkerRegistry(options.workerTimeoutMs);
    // An expired key is kept until every live worker has heartbeated since it expired.
    this.apps = new AppRegistry(options.appTimeoutMs, options.workerTimeoutMs, this.startedAt, this.ledger);
    this.strategy = createStrategy(options.slotStrategy);
    this.quotas = new MasterQuotas(options.quotas);
  }

  private now(): number {
    return this.options.now();
  }

  /** Workers alive now, by address key: the roster a leader publishes for the next one. */
  liveWorkers(): string[] {
    const now = this.now();
    return [...this.workers.all()].filter((w) => this.workers.isAlive(w, now)).map((w) => w.key).sort();
  }

  registerWorker(req: RequestOf<typeof RegisterWorker>): ResponseOf<typeof RegisterWorker> {
    checkAddress(req.address, 'RegisterWorker');
    const before = this.workers.get(req.address);
    const wasLost = before !== undefined && !this.workers.isAlive(before, this.now());
    const w = this.workers.register(req.address, req.disks, this.now());
    this.grace.workerSeen(w.key);
    const fields = { worker: w.key, disks: req.disks.length, freeBytes: freeBytes(w) };
    if (before === undefined) this.log.info(fields, 'worker registered');
    else if (wasLost) this.log.info(fields, 'worker back: registered again after it was lost');
    else this.log.info(fields, 'worker registered again (it restarted)');
    return { heartbeatIntervalMs: this.options.heartbeatIntervalMs };
  }

  workerHeartbeat(req: RequestOf<typeof WorkerHeartbeat>): ResponseOf<typeof WorkerHeartbeat> {
    checkAddress(req.address, 'WorkerHeartbeat');
    if (req.shuffleSlots.length !== req.activeShuffleKeys.length) {
      throw invalid(`WorkerHeartbeat: ${req.shuffleSlots.length} slot counts for ${req.activeShuffleKeys.length} shuffle keys`);
    }
    const now = this.now();
    const leaving = this.workers.get(req.address)?.shuttingDown;
    const w = this.workers.heartbeat(req, now, this.grace.active);
    if (w === undefined) return { registered: false, expiredShuffleKeys: [], expiredAppIds: [] };
    this.grace.workerSeen(w.key);
    if (leaving === undefined) this.log.info({ worker: w.key, shuffles: req.activeShuffleKeys.length }, 'worker registered from its heartbeat (a new leader rebuilds its view)');
    else if (w.shuttingDown && !leaving) this.log.info({ worker: w.key, shuffles: req.activeShuffleKeys.length }, 'worker leaving service: no new slots for it');
    // What the worker holds is at least what the ledger should count: a new leader learns the old leader's grants so.
    req.activeShuffleKeys.forEach((key, i) => {
      if (this.apps.isLive(key)) this.ledger.atLeast(key, w.key, req.shuffleSlots[i]!);
    });
    return { registered: true, expiredShuffleKeys: this.apps.expiredAmong(req.activeShuffleKeys, now), expiredAppIds: this.apps.expiredAppsAmong(req.essAppIds) };
  }

  requestSlots(req: RequestOf<typeof RequestSlots>): ResponseOf<typeof RequestSlots> {
    checkAppId(req.appId, 'RequestSlots');
    if (req.count > MAX_SLOTS_PER_REQUEST) throw invalid(`RequestSlots: count ${req.count} is over the limit of ${MAX_SLOTS_PER_REQUEST}`);
    this.quotas.checkRequest(req.appId, req.shuffleId, req.count, this.apps.shufflesOf(req.appId));
    const now = this.now();
    // Asking for slots is a sign of life even when none can be given.
    this.apps.touch(req.appId, now);
    const excluded = new Set(req.excluded.map(addressKey));
    const candidates: Candidate[] = this.workers
      .candidates(excluded, now)
      .map((w) => ({ key: w.key, address: w.address, slots: this.ledger.workerSlots(w.key), freeBytes: freeBytes(w) }));
    let allocation: ReturnType<typeof allocateSlots>;
    try {
      allocation = allocateSlots(this.strategy, candidates, req.count, req.replicate && this.options.replicate);
    } catch (err) {
      this.log.warn(
        { app: req.appId, shuffleId: req.shuffleId, count: req.count, candidates: candidates.length, excluded: [...excluded], reason: (err as Error).message },
        'slots refused',
      );
      throw err;
    }
    const { picks, spares } = allocation;
    const key = `${req.appId}-${req.shuffleId}`;
    this.apps.slotsGranted(req.appId, req.shuffleId, now);
    for (const p of picks) {
      this.ledger.add(key, p.primary.key);
      if (p.replica !== undefined) this.ledger.add(key, p.replica.key);
    }
    return {
      slots: picks.map((p) => ({ primary: p.primary.address, replica: p.replica?.address })),
      spareWorkers: spares.map((c) => c.address),
    };
  }

  applicationHeartbeat(req: RequestOf<typeof ApplicationHeartbeat>): ResponseOf<typeof ApplicationHeartbeat> {
    checkAppId(req.appId, 'ApplicationHeartbeat');
    if (!this.apps.has(req.appId)) this.log.info({ app: req.appId, shuffles: req.shuffleIds.length }, 'application registered');
    this.apps.heartbeat(req.appId, req.shuffleIds, this.now());
    return {};
  }

  unregisterShuffle(req: RequestOf<typeof UnregisterShuffle>): ResponseOf<typeof UnregisterShuffle> {
    checkAppId(req.appId, 'UnregisterShuffle');
    this.apps.unregisterShuffle(req.appId, req.shuffleId, this.now());
    this.log.info({ app: req.appId, shuffleId: req.shuffleId }, 'shuffle unregistered: workers delete its files at their next heartbeat');
    return {};
  }

  /** Marks silent workers lost, expires silent applications, forgets expired keys no worker holds. */
  sweep(): void {
    const now = this.now();
    for (const w of this.workers.sweep(now)) {
      this.log.warn({ worker: w.key, silentMs: now - w.lastSeen, shuffles: w.activeShuffleKeys.length }, 'worker lost: no heartbeat within workerTimeout; no new slots for it');
    }
    for (const appId of this.apps.sweep(now, this.workers.reportedKeys(now), this.workers.reportedEssApps(now))) {
      this.log.info({ app: appId, appTimeoutMs: this.options.appTimeoutMs }, 'application expired: no heartbeat within appTimeout; its shuffles are deleted on every worker');
    }
  }

  status(): ServiceStatus {
    return buildStatus(
      {
        address: this.address,
        slotStrategy: this.options.slotStrategy,
        workers: this.workers,
        apps: this.apps,
        ledger: this.ledger,
        graceRemainingMs: this.grace.remainingMs(),
        quotas: this.quotas.status(),
      },
      this.now(),
    );
  }
}
