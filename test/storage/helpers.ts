import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATCH_HEADER_SIZE, writeBatchHeader } from '../../src/protocol/batch-header.js';
import type { MemoryTracker } from '../../src/storage/memory.js';

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeBatch(mapId: number, attemptId: number, batchId: number, payloadLength: number, fill: number): Buffer {
  const b = Buffer.alloc(BATCH_HEADER_SIZE + payloadLength, fill & 0xff);
  writeBatchHeader(b, 0, { mapId, attemptId, batchId, length: payloadLength });
  return b;
}

export interface BatchSpec {
  mapId: number;
  batchId: number;
  buf: Buffer;
}

/** `count` batches of random maps in [0, maps) and random sizes up to maxPayload. */
export function randomBatches(count: number, maps: number, maxPayload: number, seed: number): BatchSpec[] {
  const r = rng(seed);
  const next = new Map<number, number>();
  const out: BatchSpec[] = [];
  for (let i = 0; i < count; i++) {
    const mapId = Math.floor(r() * maps);
    const batchId = next.get(mapId) ?? 0;
    next.set(mapId, batchId + 1);
    out.push({ mapId, batchId, buf: makeBatch(mapId, 0, batchId, Math.floor(r() * maxPayload), i) });
  }
  return out;
}

export class CountingMemory implements MemoryTracker {
  held = 0;
  peak = 0;
  acquire(buf: Buffer): void {
    this.held += buf.length;
    this.peak = Math.max(this.peak, this.held);
  }
  release(buf: Buffer): void {
    this.held -= buf.length;
    if (this.held < 0) throw new Error(`released more than acquired (${this.held})`);
  }
}

export async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `braid-${prefix}-`));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

/** Offsets of batch boundaries in a buffer of whole batches (0 and the end included). */
export function batchBoundaries(buf: Buffer): number[] {
  const out = [0];
  let at = 0;
  while (at < buf.length) {
    at += BATCH_HEADER_SIZE + buf.readUInt32BE(at + 12);
    out.push(at);
  }
  if (at !== buf.length) throw new Error('buffer does not end on a batch boundary');
  return out;
}
