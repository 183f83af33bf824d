import type { HaStatus } from '../../ha/leadership.js';
import { Role, addressKey, type Address, type DiskInfo } from '../../protocol/index.js';
import { appIdOfKey, type AppRegistry } from './app-registry.js';
import type { SlotStrategyName } from './options.js';
import type { ConnectionStats } from '../../transport/index.js';
import type { MasterQuotaLimits } from './quotas.js';
import type { SlotLedger } from './slot-ledger.js';
import type { WorkerRegistry } from './worker-registry.js';

export interface WorkerStatus {
  /** `host:port` */
  address: string;
  lost: boolean;
  shuttingDown: boolean;
  lastHeartbeatAgoMs: number;
  disks: DiskInfo[];
  /** Slots assigned to it (primaries and replicas) for shuffles still registered. */
  slots: number;
  /** Number of shuffle keys it reported holding at its last heartbeat. */
  activeShuffles: number;
}

export interface ApplicationStatus {
  appId: string;
  lastHeartbeatAgoMs: number;
  shuffles: number[];
}

export interface ShuffleStatus {
  key: string;
  appId: string;
  shuffleId: number;
  /** Slots assigned to the shuffle, primaries and replicas. */
  slots: number;
  /** The same, per worker (`host:port`). */
  slotsByWorker: Record<string, number>;
}

/**
 * The master's state as served by GetStatus (JSON) and `MasterHandle.status()`.
 * A master that does not lead has no state of its own: its lists are empty,
 * and `ha` says who leads.
 */
export interface MasterStatus {
  role: 'master';
  /** `host:port` */
  address: string;
  uptimeMs: number;
  /** Leadership: this master's role, the leader, failovers. */
  ha: HaStatus;
  /** While a new leader rebuilds its view from heartbeats (slot requests wait); 0 after. */
  graceRemainingMs: number;
  slotStrategy: SlotStrategyName;
  workers: WorkerStatus[];
  applications: ApplicationStatus[];
  shuffles: ShuffleStatus[];
  /** Ended shuffle keys that workers are still being told to delete. */
  expiredShuffleKeys: string[];
  /** Connections open now and refused since start. */
  connections: ConnectionStats;
  /** Cluster-wide quotas and how often they refused. */
  quotas: { limits: MasterQuotaLimits; refusals: Record<keyof MasterQuotaLimits, number> };
}

export interface StatusSources {
  address: Address;
  slotStrategy: SlotStrategyName;
  workers: WorkerRegistry;
  apps: AppRegistry;
  ledger: SlotLedger;
  graceRemainingMs: number;
  quotas: MasterStatus['quotas'];
}

/** What the leader's service knows; the server adds `uptimeMs`, `ha` and its `connections`. */
export type ServiceStatus = Omit<MasterStatus, 'uptimeMs' | 'ha' | 'connections'>;

const byKey = <T>(f: (t: T) => string) => (a: T, b: T): number => (f(a) < f(b) ? -1 : f(a) > f(b) ? 1 : 0);

export function buildStatus(s: StatusSources, now: number): ServiceStatus {
  const workers: WorkerStatus[] = [...s.workers.all()]
    .map((w) => ({
      address: w.key,
      lost: !s.workers.isAlive(w, now),
      shuttingDown: w.shuttingDown,
      lastHeartbeatAgoMs: Math.max(0, now - w.lastSeen),
      disks: w.disks.map((d) => ({ ...d })),
      slots: s.ledger.workerSlots(w.key),
      activeShuffles: w.activeShuffleKeys.length,
    }))
    .sort(byKey((w) => w.address));
  const applications: ApplicationStatus[] = [...s.apps.applications()]
    .map((a) => ({ appId: a.appId, lastHeartbeatAgoMs: Math.max(0, now - a.lastSeen), shuffles: [...a.shuffles].sort((x, y) => x - y) }))
    .sort(byKey((a) => a.appId));
  const shuffles: ShuffleStatus[] = [...s.apps.allShuffles()]
    .map((sh) => ({
      key: sh.key,
      appId: sh.appId,
      shuffleId: sh.shuffleId,
      slots: s.ledger.shuffleTotal(sh.key),
      slotsByWorker: Object.fromEntries(s.ledger.shuffleSlots(sh.key)),
    }))
    .sort(byKey((sh) => sh.key));
  return {
    role: 'master',
    address: addressKey(s.address),
    graceRemainingMs: s.graceRemainingMs,
    slotStrategy: s.slotStrategy,
    workers,
    applications,
    shuffles,
    expiredShuffleKeys: [...s.apps.expiredKeys()].sort(),
    quotas: s.quotas,
  };
}

/** Who is looking: only the admin role sees the cluster; an application sees its own part. */
export interface Viewer {
  readonly peerRole: number;
  readonly appId: string;
}

/**
 * The status as `viewer` may see it. An application (any role other than
 * Admin) gets the master's own fields and its own application and shuffles;
 * no workers, no other application.
 */
export function statusView(s: MasterStatus, viewer: Viewer): MasterStatus {
  if (viewer.peerRole === Role.Admin) return s;
  const own = (appId: string) => appId === viewer.appId;
  return {
    ...s,
    workers: [],
    applications: s.applications.filter((a) => own(a.appId)),
    shuffles: s.shuffles.filter((sh) => own(sh.appId)),
    expiredShuffleKeys: s.expiredShuffleKeys.filter((k) => own(appIdOfKey(k))),
  };
}

/** The status of a master that does not lead: nothing but who it is, its settings, and (from the server) who leads. */
export function idleStatus(address: Address, slotStrategy: SlotStrategyName, quotas: MasterStatus['quotas']): ServiceStatus {
  return {
    role: 'master',
    address: addressKey(address),
    graceRemainingMs: 0,
    slotStrategy,
    workers: [],
    applications: [],
    shuffles: [],
    expiredShuffleKeys: [],
    quotas,
  };
}
