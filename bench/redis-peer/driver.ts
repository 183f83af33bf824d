/**
 * The driver of the Redis TeraSort, the peer Braid's TeraSort is compared
 * with (terasort.vs_redis). Like Braid's job runner (src/jobs/runner) it
 * forks task processes (not worker threads), each with one connection, runs
 * every map task, then — once all maps are done — every reduce task, one
 * task per process at a time, and validates with teraSortJob.summarize.
 *
 * Timing mirrors runJob's: from forking the task processes to the last
 * reduce result (so both include starting the processes and connecting).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JobSummary } from '../../src/jobs/job.js';
import { teraSortJob } from '../../src/jobs/terasort.js';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';
import type { DriverMessage, MapResult, ReduceResult, RedisTeraSortParams, TaskMessage, TaskReply } from './messages.js';

export interface RedisTeraSortOptions {
  host: string;
  port: number;
  params: RedisTeraSortParams;
  numMaps: number;
  numReduces: number;
  /** Task processes (default 2, as runJob). */
  processes?: number;
}

export interface RedisTeraSortResult {
  summary: JobSummary;
  seconds: number;
  mapSeconds: number;
  reduceSeconds: number;
}

const TASK_ENTRY = fileURLToPath(new URL('./task.js', import.meta.url));

export async function runRedisTeraSort(o: RedisTeraSortOptions): Promise<RedisTeraSortResult> {
  const started = performance.now();
  const children: ChildProcess[] = [];
  try {
    for (let i = 0; i < (o.processes ?? 2); i++) children.push(fork(TASK_ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' }));
    await Promise.all(children.map((c) => initChild(c, o.host, o.port)));
    const base = { numMaps: o.numMaps, numReduces: o.numReduces, params: o.params };
    const maps = (await runAll(children, 'map', o.numMaps, base)) as MapResult[];
    const mapSeconds = (performance.now() - started) / 1000;
    const reduces = (await runAll(children, 'reduce', o.numReduces, base)) as ReduceResult[];
    const seconds = (performance.now() - started) / 1000;
    const summary = teraSortJob.summarize({ totalRecords: o.params.totalRecords, seed: o.params.seed }, maps, reduces);
    return { summary, seconds, mapSeconds, reduceSeconds: seconds - mapSeconds };
  } finally {
    await Promise.all(children.map(stopChild));
  }
}

function initChild(child: ChildProcess, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new BraidError(ErrorCodes.INTERNAL, `redis task process exited with code ${code} before it was ready`));
    child.once('exit', onExit);
    child.once('error', reject);
    child.on('message', function onReady(m: TaskReply) {
      if (m.kind !== 'ready') return;
      child.off('message', onReady);
      child.off('exit', onExit);
      child.off('error', reject);
      resolve();
    });
    child.send({ kind: 'init', host, port } satisfies DriverMessage);
  });
}

/** Runs tasks 0..count-1 of one phase, each process taking the next task when it finishes one; results by index. */
async function runAll(children: ChildProcess[], phase: 'map' | 'reduce', count: number, base: Omit<TaskMessage, 'kind' | 'taskId' | 'phase' | 'index'>): Promise<unknown[]> {
  const results = new Array<unknown>(count);
  let next = 0;
  await Promise.all(
    children.map(async (child) => {
      while (next < count) {
        const index = next++;
        results[index] = await runTask(child, { ...base, kind: 'task', taskId: index, phase, index });
      }
    }),
  );
  return results;
}

function runTask(child: ChildProcess, task: TaskMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new BraidError(ErrorCodes.INTERNAL, `redis task process exited with code ${code} during ${task.phase} ${task.index}`));
    const onMessage = (m: TaskReply) => {
      if (m.kind !== 'result' || m.taskId !== task.taskId) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (m.ok) resolve(m.result);
      else reject(new BraidError(ErrorCodes.INTERNAL, `redis ${task.phase} ${task.index} failed: ${m.error}`));
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
    child.send(task satisfies DriverMessage);
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ kind: 'exit' } satisfies DriverMessage);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
