import type { ShuffleClientOptions } from '../../client/options.js';
import type { TlsFiles } from '../../security/tls.js';

/** Driver → task process, once: who to talk to. */
export interface InitMessage {
  kind: 'init';
  appId: string;
  lifecycleManager: string;
  /** Options that survive IPC: TLS as files, never as loaded material. */
  client: Omit<ShuffleClientOptions, 'appId' | 'lifecycleManager' | 'tls'> & { tls?: TlsFiles };
}

/** Driver → task process: run one map or reduce task. */
export interface TaskMessage {
  kind: 'task';
  taskId: number;
  phase: 'map' | 'reduce';
  job: string;
  index: number;
  attemptId: number;
  shuffleId: number;
  numMaps: number;
  numReduces: number;
  params: unknown;
}

export type ChildMessage =
  | { kind: 'ready' }
  | { kind: 'progress'; taskId: number; bytes: number }
  | { kind: 'result'; taskId: number; ok: true; result: unknown }
  | { kind: 'result'; taskId: number; ok: false; error: { code: string; message: string } };

export type DriverMessage = InitMessage | TaskMessage | { kind: 'exit' };
