/**
 * A task process: holds one ShuffleClient and runs the map and reduce tasks
 * the driver sends it over IPC, one result message per task.
 */
import { ShuffleClient } from '../../client/shuffle-client.js';
import { asBraidError } from '../../protocol/index.js';
import { loadJob } from '../registry.js';
import type { ChildMessage, DriverMessage, InitMessage, TaskMessage } from './messages.js';

let client: ShuffleClient | undefined;

function send(m: ChildMessage): void {
  process.send?.(m);
}

async function init(m: InitMessage): Promise<void> {
  client = await ShuffleClient.connect({ ...m.client, appId: m.appId, lifecycleManager: m.lifecycleManager });
  send({ kind: 'ready' });
}

async function run(m: TaskMessage): Promise<void> {
  try {
    if (client === undefined) throw new Error('task before init');
    const job = await loadJob(m.job);
    let reported = 0;
    let lastSent = 0;
    const ctx = {
      client,
      shuffleId: m.shuffleId,
      numMaps: m.numMaps,
      numReduces: m.numReduces,
      attemptId: m.attemptId,
      progress(bytes: number) {
        reported += bytes;
        const now = Date.now();
        if (now - lastSent > 200) {
          lastSent = now;
          send({ kind: 'progress', taskId: m.taskId, bytes: reported });
          reported = 0;
        }
      },
    };
    const result = m.phase === 'map' ? await job.map(ctx, m.index, m.params as never) : await job.reduce(ctx, m.index, m.params as never);
    if (reported > 0) send({ kind: 'progress', taskId: m.taskId, bytes: reported });
    send({ kind: 'result', taskId: m.taskId, ok: true, result });
  } catch (err) {
    const e = asBraidError(err);
    send({ kind: 'result', taskId: m.taskId, ok: false, error: { code: e.code, message: e.message } });
  }
}

process.on('message', (m: DriverMessage) => {
  if (m.kind === 'init') void init(m).catch((err: unknown) => {
    console.error(`task process failed to start: ${asBraidError(err).message}`);
    process.exit(1);
  });
  else if (m.kind === 'task') void run(m);
  else if (m.kind === 'exit') void (client?.close() ?? Promise.resolve()).finally(() => process.exit(0));
});
process.on('disconnect', () => process.exit(0));
