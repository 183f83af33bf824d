/**
 * Piscina task: compresses a batch of record blocks in a worker thread. The
 * blocks arrive transferred (no copy) and the results go back transferred.
 */
import type { CodecId } from '../../protocol/index.js';
import { compressBlock } from './codecs.js';

export interface CompressTask {
  codec: CodecId;
  level: number;
  blocks: Uint8Array[];
}

export default async function compressTask(task: CompressTask): Promise<Uint8Array[]> {
  return Promise.all(task.blocks.map((b) => compressBlock(task.codec, Buffer.from(b.buffer, b.byteOffset, b.byteLength), task.level)));
}
