import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/protocol/errors.js';
import { ChunkReader, readRange } from '../../src/storage/chunk-reader.js';
import { rng, tempDir } from './helpers.js';

describe('chunk reads', () => {
  let tmp: { path: string; remove: () => Promise<void> };
  let data: Buffer;
  let file: string;
  beforeEach(async () => {
    tmp = await tempDir('chunks');
    const r = rng(5);
    data = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
    file = join(tmp.path, 'f');
    await writeFile(file, data);
  });
  afterEach(async () => {
    await tmp.remove();
  });

  it('readRange returns exactly the asked bytes in a buffer of their own', async () => {
    for (const [offset, length] of [[0, data.length], [5, 1000], [data.length - 17, 17], [123, 0], [1 << 20, 2 << 20]]) {
      const got = await readRange(file, offset, length);
      expect(got.length).toBe(length);
      expect(got.equals(data.subarray(offset, offset + length))).toBe(true);
      expect(got.buffer.byteLength).toBe(length);
    }
  });

  it('readRange fails with READ_FAILED past the end or on a missing file', async () => {
    await expect(readRange(file, data.length - 10, 11)).rejects.toMatchObject({ code: ErrorCodes.READ_FAILED });
    await expect(readRange(join(tmp.path, 'nope'), 0, 1)).rejects.toMatchObject({ code: ErrorCodes.READ_FAILED, retriable: true });
    await expect(readRange(file, -1, 1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });

  it('ChunkReader keeps at most maxOpenFiles handles and reads correctly through evictions', async () => {
    const files = await Promise.all(
      [0, 1, 2, 3].map(async (i) => {
        const p = join(tmp.path, `g${i}`);
        await writeFile(p, data.subarray(i * 1000, i * 1000 + 50_000));
        return p;
      }),
    );
    const reader = new ChunkReader({ maxOpenFiles: 2 });
    try {
      const reads = [];
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < files.length; i++) reads.push(reader.readRange(files[i], round * 100, 4000).then((b) => ({ i, round, b })));
      }
      for (const { i, round, b } of await Promise.all(reads)) {
        expect(b.equals(data.subarray(i * 1000 + round * 100, i * 1000 + round * 100 + 4000))).toBe(true);
      }
      expect(reader.openFiles).toBeLessThanOrEqual(2);
      await expect(reader.readRange(join(tmp.path, 'nope'), 0, 1)).rejects.toMatchObject({ code: ErrorCodes.READ_FAILED });
      expect(reader.openFiles).toBeLessThanOrEqual(2);
      reader.forget(files[3]);
      expect((await reader.readRange(files[3], 0, 10)).equals(data.subarray(3000, 3010))).toBe(true);
    } finally {
      await reader.close();
    }
    expect(reader.openFiles).toBe(0);
  });
});
