import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { CodecId } from '../../protocol/index.js';
import { BatchCodec } from '../../protocol/index.js';
import { compressBlock } from './codecs.js';

/** Turns raw record blocks into compressed blocks. */
export interface Compressor {
  compress(data: Buffer): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function createCompressor(codec: CodecId, mode: 'inline' | 'pool', level: number): Compressor {
  if (codec === BatchCodec.None) return { compress: (d) => Promise.resolve(d), close: () => Promise.resolve() };
  if (mode === 'inline') return { compress: (d) => compressBlock(codec, d, level), close: () => Promise.resolve() };
  return new PoolCompressor(codec, level);
}

/**
 * Compresses in piscina threads. Blocks submitted in the same turn of the
 * event loop are sent as one task, so a thread hop (30-65 µs) is paid per
 * batch of blocks rather than per block.
 */
class PoolCompressor implements Compressor {
  private readonly pool: Piscina;
  private queue: { data: Buffer; resolve(b: Uint8Array): void; reject(e: unknown): void }[] = [];
  private scheduled = false;

  constructor(
    private readonly codec: CodecId,
    private readonly level: number,
  ) {
    this.pool = new Piscina({ filename: taskFile(), maxThreads: 2, maxQueue: 256 });
  }

  compress(data: Buffer): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.queue.push({ data, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.submit());
      }
    });
  }

  private submit(): void {
    this.scheduled = false;
    const items = this.queue;
    this.queue = [];
    // Copies into fresh buffers that can be transferred: the caller keeps its own data.
    const blocks = items.map((i) => new Uint8Array(i.data)); // copy
    this.pool.run({ codec: this.codec, level: this.level, blocks }, { transferList: blocks.map((b) => b.buffer as ArrayBuffer) }).then(
      (out: Uint8Array[]) => items.forEach((item, k) => item.resolve(out[k]!)),
      (err: unknown) => items.forEach((item) => item.reject(err)),
    );
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/** The compiled task next to this file; from TypeScript sources (tests), the compiled copy in dist/. */
function taskFile(): string {
  const js = new URL('./compress-task.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return js.href;
  return new URL('../../../dist/client/compression/compress-task.js', import.meta.url).href;
}
