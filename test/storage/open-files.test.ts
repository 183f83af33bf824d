import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { DataDirs, MAX_OPEN_WRITER_FILES, PartitionWriter, openWriterFileCount, setMaxOpenWriterFiles } from '../../src/storage/index.js';
import { makeBatch } from './helpers.js';

let dir = '';
afterEach(async () => {
  setMaxOpenWriterFiles(MAX_OPEN_WRITER_FILES);
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('writers stay under the open-file limit and still write every byte in order', async () => {
  dir = await mkdtemp(join(tmpdir(), 'braid-open-'));
  const dirs = await DataDirs.open([dir], { reserveBytes: 0 });
  const before = openWriterFileCount();
  setMaxOpenWriterFiles(before + 8);
  const writers: PartitionWriter[] = [];
  for (let p = 0; p < 60; p++) {
    writers.push(await PartitionWriter.create({ dir: dirs.pick(), appId: 'app', shuffleId: 1, partitionId: p, epoch: 0, mode: 0, flushThreshold: 1 }));
  }
  expect(openWriterFileCount() - before).toBeLessThanOrEqual(8);
  const expected = writers.map(() => [] as Buffer[]);
  for (let round = 0; round < 3; round++) {
    for (let p = 0; p < writers.length; p++) {
      const b = makeBatch(p, 0, round, 100 + p, round + 1);
      expected[p]!.push(b);
      writers[p]!.append(b);
    }
    await Promise.all(writers.map((w) => w.flush()));
    // Every flush opens a closed file for its write; idle files are closed again past the limit.
    expect(openWriterFileCount() - before).toBeLessThanOrEqual(8);
  }
  const committed = await Promise.all(writers.map((w) => w.commit()));
  expect(openWriterFileCount()).toBe(before);
  for (let p = 0; p < writers.length; p++) {
    expect((await readFile(committed[p]!.path)).equals(Buffer.concat(expected[p]!))).toBe(true);
  }
});
