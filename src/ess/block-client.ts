/**
 * The executor and reducer side of the external shuffle service: register an
 * executor's local directories with the worker on its host, and read blocks
 * of map outputs back as one stream, in order, with several chunk requests
 * in flight. A chunk refused with SERVER_BUSY is asked for again after a
 * short, growing pause.
 */
import { BraidError, ErrorCodes, OpenBlocks, ProtocolError, RegisterExecutor, isBraidError } from '../protocol/index.js';
import type { Connection } from '../transport/index.js';
import type { ExecutorShuffleInfo } from './executor-registry.js';

export { writeMapOutput, encodeIndex } from './map-output-writer.js';

export interface FetchBlocksOptions {
  /** Chunk requests outstanding at once (default 4). */
  maxInFlight?: number;
  /** How often one chunk refused with SERVER_BUSY is asked for again (default 20). */
  busyRetries?: number;
  /** First pause after SERVER_BUSY, doubled each time up to 1 s (default 10 ms). */
  busyBackoffMs?: number;
  /** Timeout of OpenBlocks and of each chunk request (default: the connection's). */
  timeoutMs?: number;
}

export async function registerExecutor(conn: Connection, appId: string, execId: string, info: ExecutorShuffleInfo, timeoutMs?: number): Promise<void> {
  await conn.call(
    RegisterExecutor,
    { appId, execId, localDirs: [...info.localDirs], subDirsPerLocalDir: info.subDirsPerLocalDir, shuffleManager: info.shuffleManager },
    timeoutMs,
  );
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function fetchChunk(conn: Connection, streamId: number, chunkIndex: number, retries: number, backoffMs: number, timeoutMs: number | undefined): Promise<Buffer> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await conn.fetchChunk(streamId, chunkIndex, timeoutMs);
    } catch (err) {
      if (!isBraidError(err, ErrorCodes.SERVER_BUSY) || attempt >= retries) throw err;
      await sleep(Math.min(1000, backoffMs * 2 ** attempt));
    }
  }
}

/** The blocks' bytes, one Buffer per block id, in the order asked. */
export async function* fetchBlocks(conn: Connection, appId: string, execId: string, blockIds: readonly string[], options: FetchBlocksOptions = {}): AsyncGenerator<Buffer> {
  const maxInFlight = options.maxInFlight ?? 4;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw new BraidError(ErrorCodes.CONFIG, `fetchBlocks option "maxInFlight": expected a positive integer, got ${maxInFlight}`);
  const retries = options.busyRetries ?? 20;
  const backoffMs = options.busyBackoffMs ?? 10;
  const { streamId, numChunks } = await conn.call(OpenBlocks, { appId, execId, blockIds: [...blockIds] }, options.timeoutMs);
  if (numChunks !== blockIds.length) throw new ProtocolError(`OpenBlocks of ${blockIds.length} blocks answered ${numChunks} chunks`);
  const window: Promise<Buffer>[] = [];
  let next = 0;
  const launch = (): void => {
    const p = fetchChunk(conn, streamId, next++, retries, backoffMs, options.timeoutMs);
    // Handled where it is awaited; this keeps a request the consumer never reaches from going unhandled.
    p.catch(() => undefined);
    window.push(p);
  };
  while (next < numChunks && window.length < maxInFlight) launch();
  for (let i = 0; i < numChunks; i++) {
    const chunk = await window.shift()!;
    if (next < numChunks) launch();
    yield chunk;
  }
}
