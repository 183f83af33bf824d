/**
 * The options of each server role: their resolved types, defaults, bounds and
 * cross-field rules. Sizes are bytes, durations milliseconds, ratios plain
 * numbers. A type and its schema must agree key for key (see OptionTable).
 */
import type { Address, ConfigSchema, CrossCheck, OptionTable } from './schema.js';
import { CLUSTER_NAME_RE } from '../ha/leadership.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/index.js';
import { masterQuotaOptions, workerQuotaOptions, type MasterQuotaConfig, type WorkerQuotaConfig } from './quota-options.js';
import { securityOptions, type SecurityConfig } from './security-options.js';

const KIB = 1024;
const MIB = 1024 * KIB;
const GIB = 1024 * MIB;

export type SlotStrategy = 'roundrobin' | 'loadaware';

/** Options every server role has. */
export interface CommonConfig extends SecurityConfig {
  /** The address to listen on; 0.0.0.0 = every interface. */
  readonly host: string;
  /** The host peers are told to connect to; '' = `host` (see src/transport/advertise.ts). */
  readonly advertiseHost: string;
  /** Advertise this network interface's address instead; '' = not used. */
  readonly advertiseInterface: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Metrics and status HTTP port; -1 = off, 0 = any free port. */
  readonly httpPort: number;
  /** Milliseconds. */
  readonly heartbeatInterval: number;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** Milliseconds between pings on an idle connection. */
  readonly pingInterval: number;
  /** Milliseconds without a frame after which a connection is closed as dead. */
  readonly deadPeerTimeout: number;
  /** Milliseconds to open a connection to a peer. */
  readonly connectTimeout: number;
}

/** What a master does, wherever it runs (alone, in standalone, or elected). */
export interface MasterCoreConfig extends CommonConfig, MasterQuotaConfig {
  /** Milliseconds without a heartbeat before a worker counts as lost. */
  readonly workerTimeout: number;
  /** Milliseconds without a heartbeat before an application expires. */
  readonly appTimeout: number;
  readonly slotStrategy: SlotStrategy;
  readonly replicate: boolean;
}

/** High availability: masters elected through etcd. */
export interface HaConfig {
  /** etcd endpoints; empty = the master runs alone. */
  readonly etcd: readonly string[];
  /** Milliseconds, whole seconds. */
  readonly leaseTtl: number;
  readonly clusterName: string;
  /** Milliseconds. */
  readonly leaderGrace: number;
}

export interface MasterConfig extends MasterCoreConfig, HaConfig {}

export interface WorkerConfig extends CommonConfig, WorkerQuotaConfig {
  /** One master, or every master of a cluster with high availability. */
  readonly master: readonly Address[];
  readonly dataDirs: readonly string[];
  /** Bytes buffered in memory above which push sockets are paused. */
  readonly memoryLimit: number;
  /** Ratio of memoryLimit below which paused push sockets resume. */
  readonly lowWatermark: number;
  /** Ratio of memoryLimit above which replica sockets are paused too (>= 1). */
  readonly replicaWatermark: number;
  readonly chunkSize: number;
  readonly flushThreshold: number;
  readonly splitThreshold: number;
  readonly hardSplitLimit: number;
  readonly diskReserve: number;
  readonly chunkCacheSize: number;
  readonly maxChunksInFlight: number;
  readonly essIndexCacheBytes: number;
  readonly essMaxChunksBeingTransferred: number;
  /** Executors' local directories must lie inside one of these; empty = no executor registration. */
  readonly essLocalDirRoots: readonly string[];
  /** Milliseconds a graceful stop waits for the commits of the shuffles held here. */
  readonly drainTimeout: number;
  /** Milliseconds a decommission serves reads at most before the worker exits anyway. */
  readonly decommissionTimeout: number;
}

export interface StandaloneConfig extends MasterCoreConfig, Omit<WorkerConfig, 'master' | 'drainTimeout' | 'decommissionTimeout'> {
  readonly workers: number;
  /** '' = a new temporary directory. */
  readonly dataDir: string;
  readonly replicate: boolean;
}

const common: OptionTable<CommonConfig> = {
  host: { kind: 'string', default: '127.0.0.1', description: 'Address to listen on; 0.0.0.0 listens on every interface (then set advertiseHost).' },
  advertiseHost: {
    kind: 'string',
    default: '',
    description: 'Host peers are told to connect to; empty = host. Never a wildcard, nor loopback when peers are on other hosts.',
  },
  advertiseInterface: {
    kind: 'string',
    default: '',
    description: 'Advertise the address of this network interface (e.g. eth0) instead of advertiseHost.',
  },
  port: { kind: 'int', default: 0, min: 0, max: 65535, description: 'Port for the Braid protocol; 0 picks a free one.' },
  httpPort: {
    kind: 'int',
    default: -1,
    min: -1,
    max: 65535,
    description: 'Port for /metrics, /status and /healthz; -1 turns HTTP off, 0 picks a free one.',
  },
  heartbeatInterval: { kind: 'duration', default: 5000, min: 1, description: 'How often heartbeats are sent.' },
  ...securityOptions,
  logLevel: { kind: 'enum', values: LOG_LEVELS, default: 'info', description: 'Operational log level (logs go to stderr).' },
  logFormat: { kind: 'enum', values: LOG_FORMATS, default: 'text', description: 'Log lines as plain text or as one JSON object per line.' },
  pingInterval: { kind: 'duration', default: 1000, min: 1, description: 'An idle connection sends a ping this often; the answer proves the peer alive.' },
  deadPeerTimeout: {
    kind: 'duration',
    default: 5000,
    min: 2,
    description: 'A connection that receives nothing, not even a pong, for this long is closed as dead (a host cut off says nothing).',
  },
  connectTimeout: { kind: 'duration', default: 5000, min: 1, description: 'Opening a connection to a peer, handshake included.' },
};

const masterOnly: Omit<OptionTable<MasterCoreConfig>, keyof CommonConfig | keyof MasterQuotaConfig> = {
  workerTimeout: {
    kind: 'duration',
    default: 30_000,
    min: 1,
    description: 'A worker silent for this long is declared lost.',
  },
  appTimeout: {
    kind: 'duration',
    default: 60_000,
    min: 1,
    description: 'An application silent for this long expires and its shuffles are deleted.',
  },
  slotStrategy: {
    kind: 'enum',
    values: ['roundrobin', 'loadaware'],
    default: 'roundrobin',
    description: 'How the master spreads partition slots over workers.',
  },
  replicate: {
    kind: 'bool',
    default: true,
    description: 'Place a replica of every partition on another worker when the application asks for one.',
  },
};

const masterHa: OptionTable<HaConfig> = {
  etcd: {
    kind: 'list',
    default: [],
    description: 'etcd endpoints (host:port,...): the master is a candidate in an election and serves only while it leads. Empty: it runs alone.',
  },
  leaseTtl: {
    kind: 'duration',
    default: 10_000,
    min: 2000,
    max: 3_600_000,
    description: "TTL of the leader's etcd lease, whole seconds: a dead leader is replaced within about this long.",
  },
  clusterName: {
    kind: 'string',
    default: 'braid',
    description: 'Names the cluster in etcd: its keys live under /braid/<clusterName>/. Masters of one cluster share it.',
  },
  leaderGrace: {
    kind: 'duration',
    default: 10_000,
    min: 0,
    description: 'A new leader rebuilds its view from heartbeats at most this long (less once the workers its predecessor knew are back); slot requests wait.',
  },
};

const workerStorage: Omit<OptionTable<WorkerConfig>, keyof CommonConfig | keyof WorkerQuotaConfig | 'master' | 'dataDirs' | 'drainTimeout' | 'decommissionTimeout'> = {
  memoryLimit: {
    kind: 'size',
    default: GIB,
    min: 1,
    description: 'Buffered push bytes above which the worker stops reading push sockets.',
  },
  lowWatermark: {
    kind: 'number',
    default: 0.75,
    min: 0,
    max: 1,
    description: 'Fraction of memoryLimit below which paused push sockets resume.',
  },
  replicaWatermark: {
    kind: 'number',
    default: 1.25,
    min: 1,
    description: 'Replica sockets pause only above memoryLimit times this.',
  },
  chunkSize: { kind: 'size', default: 8 * MIB, min: 1, max: 32 * MIB, description: 'Minimum size of a fetchable chunk (at most 32m, so a chunk frame stays under the 64 MiB frame limit).' },
  flushThreshold: {
    kind: 'size',
    default: MIB,
    min: 1,
    description: "A partition file's buffered bytes are written out at this size.",
  },
  splitThreshold: {
    kind: 'size',
    default: GIB,
    min: 1,
    description: 'A partition file above this answers SOFT_SPLIT.',
  },
  hardSplitLimit: {
    kind: 'size',
    default: 4 * GIB,
    min: 1,
    description: 'A partition file above this answers HARD_SPLIT.',
  },
  diskReserve: {
    kind: 'size',
    default: GIB,
    min: 0,
    description: 'Free space kept on each disk; below it pushes answer HARD_SPLIT.',
  },
  chunkCacheSize: {
    kind: 'size',
    default: 256 * MIB,
    min: 0,
    description: 'Bytes of recently read chunks kept in memory; 0 turns the cache off.',
  },
  maxChunksInFlight: {
    kind: 'int',
    default: 64,
    min: 1,
    max: 65536,
    description: 'Chunks being sent at once; past it fetches fail SERVER_BUSY and clients retry.',
  },
  essIndexCacheBytes: {
    kind: 'size',
    default: 64 * MIB,
    min: 0,
    description: 'External shuffle service mode: bytes of executors\' index files kept in memory.',
  },
  essMaxChunksBeingTransferred: {
    kind: 'int',
    default: 64,
    min: 1,
    max: 65536,
    description: 'External shuffle service mode: blocks being sent at once; past it fetches fail SERVER_BUSY.',
  },
  essLocalDirRoots: {
    kind: 'list',
    default: [],
    description:
      'External shuffle service mode: executors\' local directories must lie inside one of these directories (symlinks resolved), as they are deleted when their application is removed; empty refuses every executor registration.',
  },
};

const workerOptions: OptionTable<WorkerConfig> = {
  ...common,
  master: { kind: 'addresses', description: 'Address of the master, or of every master (host:port,...) when they are elected through etcd (required).' },
  dataDirs: { kind: 'list', description: 'Directories to store partition files in, one per disk (required).' },
  ...workerStorage,
  ...workerQuotaOptions,
  drainTimeout: {
    kind: 'duration',
    default: 30_000,
    min: 0,
    description: 'On SIGTERM, wait at most this long for the commits of the shuffles held here before stopping.',
  },
  decommissionTimeout: {
    kind: 'duration',
    default: 6 * 3600_000,
    min: 0,
    description: 'A decommissioned worker serves reads until its shuffles are gone, or this long at most, then exits.',
  },
};

const standaloneOptions: OptionTable<StandaloneConfig> = {
  ...common,
  ...masterOnly,
  dataDirs: {
    kind: 'list',
    default: [],
    description: 'Disks shared by the workers (each in its own subdirectory); empty uses dataDir.',
  },
  ...workerStorage,
  ...workerQuotaOptions,
  workers: { kind: 'int', default: 2, min: 1, max: 16, description: 'Number of workers to start.' },
  dataDir: {
    kind: 'string',
    default: '',
    description: 'Directory holding all data; empty creates a new temporary directory.',
  },
};

function checkLiveness(c: CommonConfig, check: CrossCheck<CommonConfig>): void {
  if (c.deadPeerTimeout < 2 * c.pingInterval) {
    check.fail('deadPeerTimeout', `must be at least twice ${check.show('pingInterval')}, or a healthy idle connection could be declared dead`);
  }
  if (c.advertiseHost !== '' && c.advertiseInterface !== '') {
    check.fail('advertiseHost', `cannot be combined with ${check.show('advertiseInterface')}; set only one of them`);
  }
}

function checkMaster(c: MasterCoreConfig, check: CrossCheck<MasterCoreConfig>): void {
  checkLiveness(c, check);
  if (c.heartbeatInterval >= c.workerTimeout) {
    check.fail('heartbeatInterval', `must be shorter than ${check.show('workerTimeout')}`);
  }
}

function checkHa(c: MasterConfig, check: CrossCheck<MasterConfig>): void {
  if (c.leaseTtl % 1000 !== 0) check.fail('leaseTtl', 'must be whole seconds (etcd lease TTLs are)');
  if (!CLUSTER_NAME_RE.test(c.clusterName)) check.fail('clusterName', 'must be 1 to 64 of A-Z a-z 0-9 . _ -');
  if (c.etcd.length > 0 && c.leaderGrace < c.heartbeatInterval) {
    check.fail('leaderGrace', `must be at least ${check.show('heartbeatInterval')}, or workers may not have heartbeated when it ends`);
  }
}

type StorageConfig = Omit<WorkerConfig, 'master' | 'drainTimeout' | 'decommissionTimeout'>;

function checkStorage(c: StorageConfig, check: CrossCheck<StorageConfig>): void {
  if (c.lowWatermark >= 1) {
    check.fail('lowWatermark', 'must be below 1, or paused sockets would only resume at memoryLimit itself');
  }
  if (c.splitThreshold > c.hardSplitLimit) {
    check.fail('splitThreshold', `must not exceed ${check.show('hardSplitLimit')}`);
  }
  if (c.flushThreshold > c.memoryLimit) {
    check.fail('flushThreshold', `must not exceed ${check.show('memoryLimit')}`);
  }
}

export const masterSchema: ConfigSchema<MasterConfig> = {
  role: 'master',
  options: { ...common, ...masterOnly, ...masterQuotaOptions, ...masterHa },
  validate(c, check) {
    checkMaster(c, check);
    checkHa(c, check);
  },
};

export const workerSchema: ConfigSchema<WorkerConfig> = {
  role: 'worker',
  options: workerOptions,
  validate(c, check) {
    checkLiveness(c, check);
    checkStorage(c, check);
  },
};

export const standaloneSchema: ConfigSchema<StandaloneConfig> = {
  role: 'standalone',
  options: standaloneOptions,
  validate(c, check) {
    checkMaster(c, check);
    checkStorage(c, check);
    if (c.replicate && c.workers < 2) {
      check.fail('replicate', `needs ${check.show('workers')} to be at least 2 (or turn replicate off)`);
    }
    if (c.dataDir !== '' && c.dataDirs.length > 0) {
      check.fail('dataDirs', `cannot be combined with ${check.show('dataDir')}; set only one of them`);
    }
  },
};

export interface RoleConfigs {
  master: MasterConfig;
  worker: WorkerConfig;
  standalone: StandaloneConfig;
}

export type ConfigRole = keyof RoleConfigs;

export const SCHEMAS: { readonly [R in ConfigRole]: ConfigSchema<RoleConfigs[R]> } = {
  master: masterSchema,
  worker: workerSchema,
  standalone: standaloneSchema,
};
