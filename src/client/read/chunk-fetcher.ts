import { BraidError, ErrorCodes, MessageType, isBraidError } from '../../protocol/index.js';
import { unexpectedResponse, type Connection } from '../../transport/index.js';

export interface StreamRequest {
  shuffleKey: string;
  fileName: string;
  startMapIndex: number;
  endMapIndex: number;
}

const BUSY_RETRIES = 20;

/** Runs `op`, asking again with a growing pause while the worker answers SERVER_BUSY. */
async function whileBusy<T>(op: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isBraidError(err, ErrorCodes.SERVER_BUSY) || attempt >= BUSY_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, Math.min(10 * 2 ** attempt, 500)));
    }
  }
}

/**
 * Opens a stream on a worker and yields its chunks in order, keeping up to
 * `ahead` chunk requests in flight. A busy worker (SERVER_BUSY) is asked
 * again after a short wait; any other failure ends the iteration with it.
 */
export async function* fetchChunks(conn: Connection, req: StreamRequest, ahead: number, timeoutMs: number): AsyncGenerator<Buffer> {
  // A worker whose sorter queue is full answers OpenStream with SERVER_BUSY too: not a failed copy.
  const res = await whileBusy(() => conn.request({ type: MessageType.OpenStream, ...req }, timeoutMs));
  if (res.type !== MessageType.StreamHandle) throw unexpectedResponse(res, 'OpenStream');
  const { streamId, numChunks } = res;
  const fetchOne = (index: number): Promise<Buffer> => whileBusy(() => conn.fetchChunk(streamId, index, timeoutMs));
  const window: Promise<Buffer>[] = [];
  let next = 0;
  const refill = () => {
    while (next < numChunks && window.length < ahead) {
      const p = fetchOne(next++);
      p.catch(() => undefined); // awaited below; this only silences the abandoned ones
      window.push(p);
    }
  };
  refill();
  for (let i = 0; i < numChunks; i++) {
    const chunk = await window.shift()!;
    refill();
    yield chunk;
  }
  if (window.length !== 0) throw new BraidError(ErrorCodes.INTERNAL, 'chunk window not drained');
}
