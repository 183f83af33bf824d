/**
 * Braid as a cluster on five test hosts (../harness/hosts.ts): a master, four
 * workers on four hosts, the job's driver and tasks on a fifth, with the
 * product's default timeouts and replication on unless a test says otherwise.
 * TeraSorts run through the CLI on the client host and check their own
 * output (global order, and a checksum of all records equal to the input's):
 * "validated" means exact.
 *
 * Faults are real: a host's link goes down (silence both ways, no FIN or
 * RST), or one link between two hosts drops everything. The cost of a cut is
 * the cut run's time against uncut runs of the same job in the same test.
 */
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { canBuildHosts, type HostProcess } from '../harness/hosts.js';
import { HostCluster, jobSummary, type JobSummary, type WorkerProcess } from './host-cluster.js';

const IDLE_PROBE = fileURLToPath(new URL('./idle-probe.mjs', import.meta.url));
const JOB = ['terasort', '--size', '64m', '--maps', '8', '--reduces', '8'];
/** Issue 9's target: a host cut costs a job at most this much, with default settings. */
const CUT_COST_TARGET_S = 10;

let cluster: HostCluster | undefined;
afterEach(async () => {
  await cluster?.destroy();
  cluster = undefined;
});

function startJob(c: HostCluster, extra: string[] = []): HostProcess {
  return c.cli([...JOB, '--master', c.master.address, ...extra]);
}

/** A smaller job, where only where its slots go matters. */
const SMALL = ['--size', '16m'];

/**
 * Where each partition file of the running jobs is, read from the workers'
 * disks (not from Braid's own report): `<app>/<shuffle>/<partition>-<epoch>` →
 * the hosts of its primary and its replica.
 */
async function placement(c: HostCluster): Promise<Map<string, { primary?: string; replica?: string }>> {
  const out = new Map<string, { primary?: string; replica?: string }>();
  for (const w of c.workers) {
    for (const e of await readdir(w.dataDir, { recursive: true, withFileTypes: true })) {
      const m = /^(\d+-\d+)-(primary|replica)$/.exec(e.name);
      if (!e.isFile() || m === null) continue;
      const key = `${relative(w.dataDir, e.parentPath)}/${m[1]}`;
      out.set(key, { ...out.get(key), [m[2]!]: w.host.name });
    }
  }
  return out;
}

/** The hosts holding any partition file now. */
async function hostsWithFiles(c: HostCluster): Promise<Set<string>> {
  const hosts = new Set<string>();
  for (const { primary, replica } of (await placement(c)).values()) for (const h of [primary, replica]) if (h !== undefined) hosts.add(h);
  return hosts;
}

async function finished(job: HostProcess): Promise<JobSummary> {
  await job.exited;
  expect(job.exitCode, job.tail()).toBe(0);
  const s = jobSummary(job);
  expect(s.validated, job.tail()).toBe(true);
  return s;
}

/**
 * When a cut happens: a quarter of the phase's tasks done (others running), or
 * at the stage end: 6 or 7 of 8 maps done, the last ones pushing (there are
 * two task processes), so the cut host is silent through the end of the
 * pushes and the stage-end commit.
 */
type CutAt = 'map' | 'reduce' | 'stage-end';
function reached(job: HostProcess, at: CutAt): Promise<unknown> {
  const progress = at === 'stage-end' ? /^map +[67]\/8 tasks /m : new RegExp(`^${at} +2/8 tasks .*\\(25%\\)$`, 'm');
  return job.waitFor(progress, 180_000, 'stderr');
}

function lines(p: HostProcess, msg: string): Record<string, unknown>[] {
  return p.logs().filter((l) => l.msg === msg);
}

async function whenAlive(c: HostCluster, w: WorkerProcess, alive: boolean, timeoutMs = 60_000): Promise<void> {
  await c.waitFor(async () => (await c.masterStatus()).workers.some((x) => x.address === w.address && x.lost === !alive), timeoutMs, `${w.host.name} ${alive ? 'alive' : 'lost'}`);
}

/** Runs the job, cutting `victim`'s host at `at`; heals it and waits until the master lists it again. */
async function cutRun(c: HostCluster, at: CutAt, victim: WorkerProcess): Promise<JobSummary> {
  const job = startJob(c);
  await reached(job, at);
  await c.net.cutHost(victim.host.name);
  const cut = await finished(job);
  await c.net.healHost(victim.host.name);
  await whenAlive(c, victim, true);
  return cut;
}

/**
 * The cost of a cut: the cut run against the uncut runs on either side of it.
 * Reported against their mean; checked against the slower one, because on a
 * loaded machine two uncut runs of the same job can differ by more than the
 * cut costs (the bench-like figure is the reported one; see BENCHMARKS.md).
 */
function report(what: string, cut: JobSummary, before: JobSummary, after: JobSummary): number {
  const cost = cut.seconds - (before.seconds + after.seconds) / 2;
  console.log(
    `${what}: ${cut.seconds.toFixed(1)} s; uncut before and after ${before.seconds.toFixed(1)} s and ${after.seconds.toFixed(1)} s; ` +
      `cost ${cost.toFixed(1)} s (target ≤ ${CUT_COST_TARGET_S} s); load ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
  );
  return cut.seconds - Math.max(before.seconds, after.seconds);
}

describe.skipIf(!canBuildHosts())('multi-host cluster', () => {
  test('a TeraSort from the client host validates; every replica is on another host than its primary; idle connections stay up', async () => {
    cluster = await HostCluster.start();
    const c = cluster;
    // A connection idle for longer than the dead-peer timeout (5 s) is alive: pings keep it so. (Runs alongside the job.)
    const idle = c.client.spawn([IDLE_PROBE, c.master.address, '7000', ...c.security.client]);
    const job = startJob(c);
    // Once the reduce phase begins every partition is committed: see where each copy is, on the disks.
    await job.waitFor(/^reduce /m, 120_000, 'stderr');
    const files = await placement(c);
    console.log(`terasort on 5 hosts: ${(await finished(job)).line}`);
    expect(files.size).toBeGreaterThanOrEqual(8);
    for (const [file, { primary, replica }] of files) {
      expect(primary, file).toBeDefined();
      expect(replica, file).toBeDefined();
      expect(replica, file).not.toBe(primary);
    }

    await idle.exited;
    expect(JSON.parse(idle.stdout.trim()), idle.tail()).toEqual({ closedWhileIdle: false, answered: true });
    // Every role's log lines parse as JSON (--log-format json).
    for (const p of [c.master.proc, ...c.workers.map((w) => w.proc)]) {
      const nonJson = p.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
      expect(nonJson, p.label).toEqual([]);
      expect(p.logs().length).toBeGreaterThan(0);
    }
    expect(lines(c.master.proc, 'worker registered')).toHaveLength(4);
  }, 180_000);

  test(`a worker host cut off in the push phase, at the stage-end commit and in the read phase costs the job at most ${CUT_COST_TARGET_S} s; healed, it comes back`, async () => {
    cluster = await HostCluster.start();
    const c = cluster;
    // Uncut runs before, between and after the cut runs: each cut is compared with the runs on either side.
    const first = await finished(startJob(c));
    const pushCut = await cutRun(c, 'map', c.workers[1]!);
    const second = await finished(startJob(c));
    const readCut = await cutRun(c, 'reduce', c.workers[2]!);
    const third = await finished(startJob(c));
    const commitCut = await cutRun(c, 'stage-end', c.workers[3]!);
    const fourth = await finished(startJob(c));
    const pushCost = report(`w2 cut in the push phase`, pushCut, first, second);
    const readCost = report(`w3 cut in the read phase`, readCut, second, third);
    const commitCost = report(`w4 cut as the last map pushes (silent through the stage-end commit)`, commitCut, third, fourth);
    expect(pushCost).toBeLessThanOrEqual(CUT_COST_TARGET_S);
    expect(readCost).toBeLessThanOrEqual(CUT_COST_TARGET_S);
    expect(commitCost).toBeLessThanOrEqual(CUT_COST_TARGET_S);
    // Healed, every cut worker heartbeats again: all four are alive at the master.
    await c.waitFor(async () => (await c.masterStatus()).workers.filter((w) => !w.lost).length === 4, 40_000, 'four live workers');
  }, 600_000);

  test('only the link between two workers (primaries and replicas of each other) cut mid-push: the job is exact', async () => {
    cluster = await HostCluster.start();
    const c = cluster;
    const job = startJob(c);
    await reached(job, 'map');
    await c.net.cutLink('w1', 'w2');
    console.log(`w1↔w2 cut mid-push: ${(await finished(job)).line}`);
    // Both ends stopped waiting for the silent peer's copies.
    const replicaFailures = [c.workers[0]!, c.workers[1]!].flatMap((w) => lines(w.proc, 'replica unreachable: its pushes fail until it answers again'));
    expect(replicaFailures.length).toBeGreaterThan(0);
  }, 180_000);

  test('the master cut off from one worker: it warns, gets no new slots; healed, it comes back and gets slots', async () => {
    cluster = await HostCluster.start({ masterArgs: ['--worker-timeout', '6s'] });
    const c = cluster;
    const w3 = c.workers[2]!;
    await c.net.cutLink('master', w3.host.name);
    await whenAlive(c, w3, false, 30_000);
    const unreachable = 'master unreachable: this worker gets no new slots until it answers (serving what it holds meanwhile)';
    // The worker finds the silence on its side within deadPeerTimeout; the master may have counted it lost first.
    await c.waitFor(async () => lines(w3.proc, unreachable).length > 0, 15_000, 'the worker to warn');
    const warned = lines(w3.proc, unreachable);
    expect(warned[0]).toMatchObject({ level: 'warn', role: 'worker', master: c.master.address });
    // (The status says lost as soon as the timeout has passed; the sweep that logs it runs within a second.)
    await c.waitFor(async () => lines(c.master.proc, 'worker lost: no heartbeat within workerTimeout; no new slots for it').length > 0, 10_000, 'the master to log the loss');
    expect(lines(c.master.proc, 'worker lost: no heartbeat within workerTimeout; no new slots for it')[0]).toMatchObject({ worker: w3.address });

    const job = startJob(c, SMALL);
    await job.waitFor(/^reduce /m, 120_000, 'stderr');
    const during = await hostsWithFiles(c);
    await finished(job);
    expect(during.size).toBeGreaterThan(0);
    expect([...during]).not.toContain(w3.host.name);

    await c.net.healLink('master', w3.host.name);
    await whenAlive(c, w3, true);
    await c.waitFor(async () => lines(w3.proc, 'master reachable again').length > 0, 10_000, 'the worker to log the master back');
    expect(lines(c.master.proc, 'worker back: registered again after it was lost')[0]).toMatchObject({ worker: w3.address });
    const again = startJob(c, SMALL);
    await again.waitFor(/^reduce /m, 120_000, 'stderr');
    const after = await hostsWithFiles(c);
    await finished(again);
    expect([...after]).toContain(w3.host.name);
  }, 240_000);

  test('a worker decommissioned mid-stage without replication: exact output, and it exits by itself once its shuffles are gone', async () => {
    cluster = await HostCluster.start();
    const c = cluster;
    const w2 = c.workers[1]!;
    const job = startJob(c, ['--no-replicate']);
    await reached(job, 'map');
    const answer = await c.cliRun(['worker', 'decommission', '--worker', w2.address]);
    expect(answer.exitCode, answer.tail()).toBe(0);
    const status = JSON.parse(answer.stdout) as { state: string; waitingFor: { what: string; shuffles: { key: string; files: number }[] } };
    expect(status.state).toBe('decommissioning');
    expect(status.waitingFor.what).toBe('shuffles');
    expect(status.waitingFor.shuffles[0]?.files).toBeGreaterThan(0);
    console.log(`w2 decommissioned mid-map without replication: ${(await finished(job)).line}`);
    // The job unregistered its shuffle: the worker had nothing left to serve and went.
    const exit = await Promise.race([w2.proc.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 20_000))]);
    expect(exit, w2.proc.tail()).toEqual({ code: 0, signal: null });
    expect(lines(w2.proc, 'decommission complete: stopping')).toHaveLength(1);
    expect(w2.proc.stderr).toMatch(/^braid worker: out of service, exiting$/m);
  }, 180_000);
});
