/**
 * A shuffle job for the end-to-end tests, as a driver would run it: a
 * cluster of server processes, a LifecycleManager in this (test) process,
 * task processes for mappers and reducers; and the checks that compare what
 * the reducers read with what the winning map attempts pushed, as multisets
 * of batch digests.
 */
import { expect } from 'vitest';
import { LifecycleManager, type LifecycleManagerOptions, type ReducerFileGroup } from '../../src/client/lifecycle/index.js';
import { addressKey } from '../../src/protocol/index.js';
import { appKey, testTls } from '../security/fixture.js';
import { Cluster, onCleanup, type ClusterOptions } from './cluster.js';
import { TaskProcess, type ClientOptions, type MapResult, type MapSpec, type ReduceResult } from './tasks.js';

export interface JobEnvOptions extends ClusterOptions {
  replicate: boolean;
  /** Task processes (default 3). */
  processes?: number;
  client?: ClientOptions;
  lifecycle?: Partial<LifecycleManagerOptions>;
}

export interface JobEnv {
  appId: string;
  cluster: Cluster;
  lm: LifecycleManager;
  procs: TaskProcess[];
}

let apps = 0;

/** Timeouts small enough that a dead or stopped server costs seconds, not minutes. */
export const TEST_CLIENT_DEFAULTS: ClientOptions = { pushTimeoutMs: 5000, fetchTimeoutMs: 5000 };

export async function startJobEnv(o: JobEnvOptions): Promise<JobEnv> {
  const appId = `e2e-${process.pid}-${++apps}`;
  // The driver side needs only the master's address: it starts while the workers do.
  const { cluster, extra } = await Cluster.startWith(o, async (master) => {
    const lm = await LifecycleManager.start({
      appId,
      master,
      replicate: o.replicate,
      heartbeatIntervalMs: 500,
      rpcTimeoutMs: 5000,
      // A killed worker's copies count as lost after 5 s of retries, not the production 30 s.
      commitRetryMs: 5000,
      getReducerFileGroupTimeoutMs: 30_000,
      authToken: appKey(appId),
      tls: testTls(),
      ...o.lifecycle,
    });
    onCleanup(() => lm.close());
    const procs = await TaskProcess.startMany(o.processes ?? 3, appId, addressKey(lm.address), { ...TEST_CLIENT_DEFAULTS, ...o.client });
    return { lm, procs };
  });
  return { appId, cluster, ...extra };
}

/** Map specs for maps 0..M-1, attempt 0; map 0 also pushes a 1-byte and a 1 MiB batch. */
export function mapSpecs(shuffleId: number, numMappers: number, numPartitions: number, seed: number, batches: number, extra: Partial<MapSpec> = {}): MapSpec[] {
  return Array.from({ length: numMappers }, (_, mapId) => ({
    shuffleId,
    mapId,
    attemptId: 0,
    numMappers,
    numPartitions,
    seed,
    batches,
    ...(mapId === 0 ? { sizes: [1, 1024 * 1024] } : {}),
    ...extra,
  }));
}

/** Runs the specs round-robin over the processes and waits for all of them. */
export function runMaps(procs: TaskProcess[], specs: MapSpec[]): Promise<MapResult[]> {
  return Promise.all(specs.map((s, i) => procs[i % procs.length]!.map(s).result));
}

/** Reads partitions [0, R) round-robin over the processes. */
export function readAll(procs: TaskProcess[], shuffleId: number, numPartitions: number): Promise<ReduceResult[]> {
  return Promise.all(Array.from({ length: numPartitions }, (_, p) => procs[p % procs.length]!.reduce({ shuffleId, partitionId: p }).result));
}

/** The winning attempt of each map: exactly one attempt per map must have won. */
export function winners(results: MapResult[]): Map<number, MapResult> {
  const won = new Map<number, MapResult>();
  for (const r of results) {
    if (!r.winner) continue;
    expect(won.has(r.mapId), `map ${r.mapId} has two winning attempts`).toBe(false);
    won.set(r.mapId, r);
  }
  return won;
}

/** Digests the winners of maps in [start, end) pushed to `partitionId`. */
export function expectedDigests(results: MapResult[], partitionId: number, start = 0, end = Number.MAX_SAFE_INTEGER): string[] {
  const out: string[] = [];
  for (const w of winners(results).values()) if (w.mapId >= start && w.mapId < end) out.push(...w.pushed[partitionId]!);
  return out;
}

/** Per-digest count differences between two multisets; empty when they are equal. */
export function multisetDiff(expected: string[], actual: string[]): { missing: number; extra: number } {
  const counts = new Map<string, number>();
  for (const d of expected) counts.set(d, (counts.get(d) ?? 0) + 1);
  for (const d of actual) counts.set(d, (counts.get(d) ?? 0) - 1);
  let missing = 0;
  let extra = 0;
  for (const c of counts.values()) {
    if (c > 0) missing += c;
    else extra -= c;
  }
  return { missing, extra };
}

/** Every partition read is exactly what the winners pushed to it: each batch once, none of a loser. */
export function expectExact(results: MapResult[], reads: ReduceResult[], numPartitions: number): void {
  expect(winners(results).size).toBe(new Set(results.map((r) => r.mapId)).size);
  let total = 0;
  for (let p = 0; p < numPartitions; p++) {
    const read = reads.find((r) => r.partitionId === p);
    expect(read, `partition ${p} was not read`).toBeDefined();
    const expected = expectedDigests(results, p);
    total += expected.length;
    expect({ partition: p, ...multisetDiff(expected, read!.digests), count: read!.digests.length }).toEqual({
      partition: p,
      missing: 0,
      extra: 0,
      count: expected.length,
    });
  }
  expect(total).toBeGreaterThan(0);
}

/** Committed bytes of the shuffle's files, primary and replica copies separately. */
export function committedBytes(group: ReducerFileGroup): { primary: number; replica: number } {
  let primary = 0;
  let replica = 0;
  for (const p of group.partitions) {
    for (const f of p.files) {
      if (f.mode === 0) primary += f.bytes;
      else replica += f.bytes;
    }
  }
  return { primary, replica };
}

/** Distinct epochs of each partition in the committed file group. */
export function epochsPerPartition(group: ReducerFileGroup): number[] {
  return group.partitions.map((p) => new Set(p.files.map((f) => f.epoch)).size);
}
