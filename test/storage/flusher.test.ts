import { open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isBraidError } from '../../src/protocol/errors.js';
import { Flusher } from '../../src/storage/flusher.js';
import { tempDir } from './helpers.js';

describe('Flusher', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const handles: FileHandle[] = [];
  beforeEach(async () => {
    dir = await tempDir('flusher');
  });
  afterEach(async () => {
    await Promise.all(handles.splice(0).map((h) => h.close().catch(() => {})));
    await dir.remove();
  });
  async function openFile(name: string): Promise<FileHandle> {
    const fh = await open(join(dir.path, name), 'w+');
    handles.push(fh);
    return fh;
  }

  it('completes each file’s writes in submission order (the last overlapping write wins)', async () => {
    const flusher = new Flusher({ concurrency: 3 });
    const files = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => openFile(`f${i}`)));
    const done: Promise<void>[] = [];
    for (let round = 0; round < 20; round++) {
      for (let f = 0; f < files.length; f++) {
        // Same position every round: only strict per-file ordering leaves the last round on disk.
        done.push(flusher.write(files[f], [Buffer.alloc(4096, round), Buffer.alloc(4096, f)], 0));
      }
    }
    await Promise.all(done);
    for (let f = 0; f < files.length; f++) {
      const data = await readFile(join(dir.path, `f${f}`));
      expect(data.equals(Buffer.concat([Buffer.alloc(4096, 19), Buffer.alloc(4096, f)]))).toBe(true);
    }
    expect(flusher.queuedBytes).toBe(0);
  });

  it('merges queued contiguous jobs into few gathered writes', async () => {
    const flusher = new Flusher({ concurrency: 1 });
    const fh = await openFile('merged');
    const parts: Buffer[] = [];
    const done: Promise<void>[] = [];
    for (let i = 0; i < 64; i++) {
      const b = Buffer.alloc(64 * 1024, i);
      parts.push(b);
      done.push(flusher.write(fh, [b], i * b.length));
    }
    await Promise.all(done);
    expect((await readFile(join(dir.path, 'merged'))).equals(Buffer.concat(parts))).toBe(true);
    // The first job runs alone; the 63 queued behind it (4 MiB) fit one call.
    expect(flusher.writeCalls).toBeLessThanOrEqual(3);
    expect(flusher.bytesWritten).toBe(64 * 64 * 1024);
  });

  it('fails a write with WRITE_FAILED and every job queued behind it on that file', async () => {
    const flusher = new Flusher({ concurrency: 1 });
    const full = await open('/dev/full', 'w');
    handles.push(full);
    const ok = await openFile('ok');
    const first = flusher.write(full, [Buffer.alloc(1024)], 0);
    const second = flusher.write(full, [Buffer.alloc(1024)], 5000);
    const other = flusher.write(ok, [Buffer.alloc(1024, 7)], 0);
    const results = await Promise.allSettled([first, second, other]);
    for (const r of results.slice(0, 2)) {
      expect(r.status).toBe('rejected');
      if (r.status === 'rejected') expect(isBraidError(r.reason, ErrorCodes.WRITE_FAILED)).toBe(true);
    }
    expect(results[2].status).toBe('fulfilled');
    await expect(flusher.write(full, [Buffer.alloc(1)], 0)).rejects.toMatchObject({ code: ErrorCodes.WRITE_FAILED });
    expect(flusher.queuedBytes).toBe(0);
  });
});
