import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LifecycleManager, type LifecycleManagerOptions } from '../../client/lifecycle/index.js';
import type { MasterAddresses } from '../../ha/master-addresses.js';
import type { ShuffleClientOptions } from '../../client/options.js';
import { BraidError, ErrorCodes, addressKey, asBraidError, toErrorCode, type Address } from '../../protocol/index.js';
import { applicationKey } from '../../security/keys.js';
import type { TlsFiles } from '../../security/tls.js';
import type { JobSummary } from '../job.js';
import { loadJob } from '../registry.js';
import type { ChildMessage, DriverMessage, InitMessage, TaskMessage } from './messages.js';

export type Phase = 'map' | 'reduce';

export interface RunJobOptions {
  job: string;
  params: unknown;
  numMaps: number;
  numReduces: number;
  /** The master, or every master of a cluster with high availability. */
  master: MasterAddresses;
  appId?: string;
  shuffleId?: number;
  /** Task processes (default 2). */
  processes?: number;
  /** Tasks run at once in one process (default 1). */
  tasksPerProcess?: number;
  /** Attempts of one task before the job fails (default 2). */
  maxTaskAttempts?: number;
  /** Map indexes that also get a speculative duplicate attempt, run at the same time. */
  speculativeMaps?: number[];
  replicate?: boolean;
  /**
   * The cluster secret: the job's LifecycleManager and task processes use the
   * job's application key derived from it (the secret itself stays in this
   * process). Without it the job runs without authentication, which only a
   * cluster started with --insecure accepts.
   */
  authSecret?: string;
  /** TLS files (CA, and the certificate and key the job's LifecycleManager listens with); task processes get the CA. */
  tls?: TlsFiles;
  client?: Omit<ShuffleClientOptions, 'appId' | 'lifecycleManager' | 'authToken' | 'tls'>;
  /** More options of the job's LifecycleManager. */
  lifecycle?: Omit<LifecycleManagerOptions, 'appId' | 'master' | 'authToken' | 'insecure' | 'tls' | 'replicate'>;
  onProgress?(phase: Phase, done: number, total: number, bytes: number): void;
}

/** A task attempt that failed (and was tried again, unless it was the last). */
export interface TaskFailure {
  phase: Phase;
  index: number;
  attemptId: number;
  code: string;
  message: string;
}

export interface JobResult {
  summary: JobSummary;
  seconds: number;
  mapSeconds: number;
  reduceSeconds: number;
  /** Every task attempt that failed, although the job succeeded. */
  taskFailures: TaskFailure[];
}

interface TaskSlot {
  child: ChildProcess;
  busy: number;
}

/**
 * Runs a job: a LifecycleManager in this (driver) process, task processes
 * forked from the compiled task entry, map tasks first, then — once every
 * map has ended — reduce tasks. A failed task is tried again with a new
 * attempt id.
 */
export async function runJob(o: RunJobOptions): Promise<JobResult> {
  const job = await loadJob(o.job);
  const appId = o.appId ?? `app-${process.pid}-${Date.now().toString(36)}`;
  const shuffleId = o.shuffleId ?? 0;
  const authToken = o.authSecret ? applicationKey(o.authSecret, appId) : '';
  const lm = await LifecycleManager.start({
    ...o.lifecycle,
    appId,
    master: o.master,
    ...(authToken === '' ? { insecure: true } : { authToken }),
    tls: o.tls,
    ...(o.replicate === undefined ? {} : { replicate: o.replicate }),
  });
  const slots: TaskSlot[] = [];
  const started = performance.now();
  try {
    const count = o.processes ?? 2;
    const children = await Promise.all(Array.from({ length: count }, () => spawnTaskProcess(appId, lm.address, { ...o.client, authToken, ...(o.tls ? { tls: { caFile: o.tls.caFile } } : {}) })));
    for (const child of children) slots.push({ child, busy: 0 });
    const runner = new TaskRunner(slots, o.tasksPerProcess ?? 1, o.maxTaskAttempts ?? 2);
    const base = { job: o.job, shuffleId, numMaps: o.numMaps, numReduces: o.numReduces, params: o.params };

    let bytes = 0;
    let done = 0;
    const progress = (phase: Phase, total: number) => (b: number, finished: boolean) => {
      bytes += b;
      if (finished) done++;
      o.onProgress?.(phase, done, total, bytes);
    };
    const mapProgress = progress('map', o.numMaps);
    const speculative = new Set(o.speculativeMaps ?? []);
    const maps = await Promise.all(
      Array.from({ length: o.numMaps }, async (_, i) => {
        const attempts = [runner.run({ ...base, phase: 'map', index: i }, 0, mapProgress)];
        if (speculative.has(i)) attempts.push(runner.run({ ...base, phase: 'map', index: i }, 1, () => undefined));
        // The first attempt to finish is the one whose result counts, as with the LifecycleManager.
        return Promise.any(attempts).catch((err: AggregateError) => {
          throw err.errors[0];
        });
      }),
    );
    const mapSeconds = (performance.now() - started) / 1000;
    bytes = 0;
    done = 0;
    const reduceProgress = progress('reduce', o.numReduces);
    const reduces = await Promise.all(Array.from({ length: o.numReduces }, (_, r) => runner.run({ ...base, phase: 'reduce', index: r }, 0, reduceProgress)));
    const seconds = (performance.now() - started) / 1000;
    await lm.unregisterShuffle(shuffleId).catch(() => undefined);
    return {
      summary: job.summarize(o.params as never, maps as never[], reduces as never[]),
      seconds,
      mapSeconds,
      reduceSeconds: seconds - mapSeconds,
      taskFailures: runner.failures,
    };
  } finally {
    await Promise.all(slots.map((s) => stopChild(s.child)));
    await lm.close();
  }
}

class TaskRunner {
  readonly failures: TaskFailure[] = [];
  private nextTaskId = 1;
  private readonly waiting: (() => void)[] = [];
  private readonly pending = new Map<number, { slot: TaskSlot; resolve(v: unknown): void; reject(e: Error): void; progress(b: number, done: boolean): void }>();

  constructor(
    private readonly slots: TaskSlot[],
    private readonly perProcess: number,
    private readonly maxAttempts: number,
  ) {
    for (const s of slots) {
      s.child.on('message', (m: ChildMessage) => this.onMessage(m));
      s.child.once('exit', (code) => {
        for (const [id, p] of this.pending) {
          if (p.slot !== s) continue;
          this.pending.delete(id);
          p.reject(new BraidError(ErrorCodes.INTERNAL, `task process exited with code ${code}`));
        }
      });
    }
  }

  async run(task: Omit<TaskMessage, 'kind' | 'taskId' | 'attemptId'>, firstAttempt: number, progress: (b: number, done: boolean) => void): Promise<unknown> {
    let lastError: unknown;
    // Attempt ids: first tries are 0, 2, 4, ...; speculative duplicates 1, 3, 5, ...
    for (let k = 0; k < this.maxAttempts; k++) {
      const attemptId = firstAttempt + 2 * k;
      try {
        return await this.runOnce({ ...task, kind: 'task', taskId: this.nextTaskId++, attemptId }, progress);
      } catch (err) {
        lastError = err;
        const e = asBraidError(err);
        this.failures.push({ phase: task.phase, index: task.index, attemptId, code: e.code, message: e.message });
      }
    }
    throw lastError;
  }

  private async runOnce(task: TaskMessage, progress: (b: number, done: boolean) => void): Promise<unknown> {
    const slot = await this.acquire();
    try {
      return await new Promise((resolve, reject) => {
        this.pending.set(task.taskId, { slot, resolve, reject, progress });
        slot.child.send(task satisfies DriverMessage);
      });
    } finally {
      slot.busy--;
      this.waiting.shift()?.();
    }
  }

  private async acquire(): Promise<TaskSlot> {
    for (;;) {
      const live = this.slots.filter((s) => s.child.exitCode === null && s.child.connected);
      if (live.length === 0) throw new BraidError(ErrorCodes.INTERNAL, 'no task process is alive');
      const free = live.filter((s) => s.busy < this.perProcess).sort((a, b) => a.busy - b.busy)[0];
      if (free) {
        free.busy++;
        return free;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private onMessage(m: ChildMessage): void {
    if (m.kind === 'ready') return;
    const p = this.pending.get(m.taskId);
    if (p === undefined) return;
    if (m.kind === 'progress') return p.progress(m.bytes, false);
    this.pending.delete(m.taskId);
    if (m.ok) {
      p.progress(0, true);
      p.resolve(m.result);
    } else p.reject(new BraidError(toErrorCode(m.error.code), m.error.message));
  }
}

/** The compiled task entry; tests running from sources use the build in dist/. */
function taskEntry(): string {
  const here = fileURLToPath(new URL('./task-process.js', import.meta.url));
  if (existsSync(here)) return here;
  return fileURLToPath(new URL('../../../dist/jobs/runner/task-process.js', import.meta.url));
}

/**
 * glibc gives freed memory back to the kernel eagerly, and memory touched
 * again costs ~0.5 GB/s on these VMs: a 64 MiB top pad keeps it (measured:
 * lz4 decompression 0.8 → 1.8 GB/s). An explicit setting in the environment wins.
 */
export function tunedEnv(): NodeJS.ProcessEnv {
  return { MALLOC_TOP_PAD_: String(64 * 1024 * 1024), ...process.env };
}

async function spawnTaskProcess(appId: string, lm: Address, client: InitMessage['client']): Promise<ChildProcess> {
  const child = fork(taskEntry(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', env: tunedEnv() });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new BraidError(ErrorCodes.INTERNAL, `task process exited with code ${code} before it was ready`)));
    child.on('message', function onReady(m: ChildMessage) {
      if (m.kind === 'ready') {
        child.off('message', onReady);
        child.removeAllListeners('exit');
        child.removeAllListeners('error');
        resolve();
      }
    });
    child.send({ kind: 'init', appId, lifecycleManager: addressKey(lm), client: client ?? {} } satisfies DriverMessage);
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ kind: 'exit' } satisfies DriverMessage);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
