/**
 * The block handler used directly, as an embedding program would:
 * getBlockData resolves blocks to file segments, openBlocks resolves all
 * blocks before opening anything and refuses blocks too large for a chunk.
 */
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BlockHandler, dataFileName, resolveFile, type BlockStreams } from '../../src/ess/index.js';
import { ErrorCodes } from '../../src/protocol/index.js';
import type { FileSegment } from '../../src/server/worker/stream-manager.js';
import { execRoot, expectCode, localDirs, open, tempDir, worker, writeMaps } from './harness.js';

/** Records the segment streams it is asked to open. */
class RecordingStreams implements BlockStreams {
  readonly opened: (readonly FileSegment[])[] = [];
  readonly forgotten: string[] = [];
  openSegments(_conn: unknown, segments: readonly FileSegment[]) {
    this.opened.push(segments);
    return { streamId: this.opened.length, numChunks: segments.length };
  }
  forgetFile(path: string): void {
    this.forgotten.push(path);
  }
}

it('resolves blocks to segments of the data file, and opens nothing unless every block resolves', async () => {
  const data = await tempDir();
  const streams = new RecordingStreams();
  const handler = await BlockHandler.open({ storePath: join(data, '.braid-ess'), indexCacheBytes: 1 << 20, maxChunksBeingTransferred: 4, protectedDirs: [data], localDirRoots: [await execRoot()], maxBlockBytes: 1000 }, streams);
  try {
    const { dirs } = await localDirs(2);
    await handler.registerExecutor('app', '3', { localDirs: dirs, subDirsPerLocalDir: 8, shuffleManager: 'org.apache.spark.shuffle.sort.SortShuffleManager' });
    await writeMaps(dirs, 8, 1, 2, 3, (m, r) => [[10, 0, 30], [1000, 1001, 5]][m]![r]!);
    const dataPath = resolveFile({ localDirs: dirs, subDirsPerLocalDir: 8 }, dataFileName(1, 1));
    expect(await handler.getBlockData('app', '3', 1, 1, 2)).toEqual({ path: dataPath, offset: 2001, length: 5 });
    expect(await handler.getBlockData('app', '3', 1, 0, 1)).toMatchObject({ offset: 10, length: 0 });
    await expectCode(handler.getBlockData('app', '4', 1, 0, 0), ErrorCodes.INVALID_REQUEST);
    await expectCode(handler.getBlockData('app', '3', 1, 0, 3), ErrorCodes.INVALID_REQUEST);

    const w = await worker();
    const conn = await open(w);
    // 1000 bytes fit; 1001 do not. A failing block anywhere opens nothing.
    expect(await handler.openBlocks(conn, 'app', '3', ['shuffle_1_1_0', 'shuffle_1_0_2'])).toEqual({ streamId: 1, numChunks: 2 });
    await expectCode(handler.openBlocks(conn, 'app', '3', ['shuffle_1_0_0', 'shuffle_1_1_1']), ErrorCodes.INVALID_REQUEST);
    await expectCode(handler.openBlocks(conn, 'app', '3', ['shuffle_1_0_0', 'bogus']), ErrorCodes.INVALID_REQUEST);
    expect(streams.opened).toHaveLength(1);
    expect(handler.metrics()).toMatchObject({ streamsOpened: 1, blocksOpened: 2, registeredExecutors: 1 });

    await handler.applicationRemoved('app', true);
    expect(streams.forgotten.sort()).toEqual([resolveFile({ localDirs: dirs, subDirsPerLocalDir: 8 }, dataFileName(1, 0)), dataPath].sort());
    expect(handler.metrics().registeredExecutors).toBe(0);
  } finally {
    await handler.close();
  }
});
