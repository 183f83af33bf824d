/**
 * Task processes for the end-to-end tests: each is a forked
 * `task-child.mjs` holding one ShuffleClient (as an executor would), told
 * over IPC to run map and reduce tasks. A task can pause at chosen points;
 * the test resumes it after doing something to the cluster.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ShuffleClientOptions } from '../../src/client/options.js';
import { appKey, testCaOnly } from '../security/fixture.js';
import { BraidError, toErrorCode } from '../../src/protocol/errors.js';
import { onCleanup, trackChild } from './cluster.js';

const CHILD = fileURLToPath(new URL('./task-child.mjs', import.meta.url));

export type ClientOptions = Omit<ShuffleClientOptions, 'appId' | 'lifecycleManager'>;

export interface MapSpec {
  shuffleId: number;
  mapId: number;
  attemptId: number;
  numMappers: number;
  numPartitions: number;
  seed: number;
  batches: number;
  /** Forced sizes of the first batches (e.g. [1, 1 MiB]); the rest are drawn. */
  sizes?: number[];
  /** Upper bound of drawn sizes (default 1 MiB). */
  maxSize?: number;
  /** Only this push method; by default each batch picks pushData or mergeData at random. */
  method?: 'pushData' | 'mergeData';
  /** Pause before pushing batch i (i = batches: before mapperEnd). */
  pauseAt?: number[];
  /** At each pause, first flush merge buffers and wait until no push is in flight. */
  drainAtPause?: boolean;
}

export interface MapResult {
  mapId: number;
  attemptId: number;
  winner: boolean;
  allMappersEnded: boolean;
  /** sha1 of every raw batch pushed, per partition. */
  pushed: string[][];
  /** Bytes of the batches as pushed (headers included), each counted once. */
  wireBytes: number;
}

export interface ReduceSpec {
  shuffleId: number;
  partitionId: number;
  startMapIndex?: number;
  endMapIndex?: number;
  /** Pause after this many batches were read. */
  pauseAfter?: number;
}

export interface ReduceResult {
  partitionId: number;
  digests: string[];
  bytes: number;
}

type ChildMessage =
  | { kind: 'ready' }
  | { kind: 'init-failed'; error: { code: string; message: string } }
  | { kind: 'paused'; id: number; at: number }
  | { kind: 'result'; id: number; ok: true; result: unknown }
  | { kind: 'result'; id: number; ok: false; error: { code: string; message: string } };

/** One running task: its result, and its pauses as they happen. */
export class TaskRun<T> {
  readonly result: Promise<T>;
  private settle!: { resolve(v: T): void; reject(e: Error): void };
  private readonly pauses: number[] = [];
  private pauseWaiters: ((at: number) => void)[] = [];

  constructor(
    private readonly proc: TaskProcess,
    readonly id: number,
  ) {
    this.result = new Promise<T>((resolve, reject) => (this.settle = { resolve, reject }));
    // A test that awaits pauses first must not see an unhandled rejection meanwhile.
    this.result.catch(() => undefined);
  }

  /** Resolves with the point of the next pause (batch index for maps, batches read for reduces). */
  nextPause(): Promise<number> {
    const at = this.pauses.shift();
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve) => this.pauseWaiters.push(resolve));
  }

  resume(): void {
    this.proc.send({ kind: 'resume', id: this.id });
  }

  /** @internal */
  onPaused(at: number): void {
    const w = this.pauseWaiters.shift();
    if (w) w(at);
    else this.pauses.push(at);
  }

  /** @internal */
  onResult(m: Extract<ChildMessage, { kind: 'result' }>): void {
    if (m.ok) this.settle.resolve(m.result as T);
    else this.settle.reject(new BraidError(toErrorCode(m.error.code), m.error.message));
  }

  /** @internal */
  onExit(why: string): void {
    this.settle.reject(new Error(why));
  }
}

let nextTaskId = 1;

export class TaskProcess {
  private readonly runs = new Map<number, TaskRun<unknown>>();
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    this.exited = trackChild(child);
    child.on('message', (m: ChildMessage) => {
      if (m.kind === 'paused') this.runs.get(m.id)?.onPaused(m.at);
      else if (m.kind === 'result') {
        this.runs.get(m.id)?.onResult(m);
        this.runs.delete(m.id);
      }
    });
    child.once('exit', (code, signal) => {
      for (const r of this.runs.values()) r.onExit(`task process exited (${code ?? signal}) while running task ${r.id}`);
      this.runs.clear();
    });
  }

  /**
   * Forks a task process and connects its ShuffleClient to the
   * LifecycleManager, with the application's key and the test CA (what a
   * task holds: nothing of the cluster's secret or certificates).
   */
  static async start(appId: string, lifecycleManager: string, options: ClientOptions = {}): Promise<TaskProcess> {
    const client: ClientOptions = { authToken: appKey(appId), tls: testCaOnly(), ...options };
    const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const proc = new TaskProcess(child);
    onCleanup(() => proc.close());
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: ChildMessage) => {
        if (m.kind === 'ready') {
          child.off('message', onMessage);
          resolve();
        } else if (m.kind === 'init-failed') reject(new BraidError(toErrorCode(m.error.code), m.error.message));
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`task process exited with ${code} before it was ready`)));
      child.send({ kind: 'init', appId, lifecycleManager, client });
    });
    return proc;
  }

  static startMany(n: number, appId: string, lifecycleManager: string, client: ClientOptions = {}): Promise<TaskProcess[]> {
    return Promise.all(Array.from({ length: n }, () => TaskProcess.start(appId, lifecycleManager, client)));
  }

  /** @internal */
  send(m: object): void {
    if (this.child.connected) this.child.send(m);
  }

  map(spec: MapSpec): TaskRun<MapResult> {
    return this.run<MapResult>({ kind: 'map', ...spec });
  }

  reduce(spec: ReduceSpec): TaskRun<ReduceResult> {
    return this.run<ReduceResult>({ kind: 'reduce', ...spec });
  }

  private run<T>(task: object): TaskRun<T> {
    const r = new TaskRun<T>(this, nextTaskId++);
    this.runs.set(r.id, r as TaskRun<unknown>);
    this.send({ ...task, id: r.id });
    return r;
  }

  /** Asks the process to close its client and exit; SIGKILL if it does not within 3 s. */
  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.send({ kind: 'exit' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
