/**
 * The executor registry (validation, persistence in its LevelDB store) and
 * the index cache (checks on load, LRU bounded in bytes, shared loads), on
 * real files in temporary directories.
 */
import { stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExecutorRegistry, IndexCache, LocalDirRoots, encodeIndex, indexEntryWeight, validateExecutorInfo, writeMapOutput } from '../../src/ess/index.js';
import { ErrorCodes } from '../../src/protocol/index.js';
import { blockBytes, execRoot, expectCode, localDirs, tempDir } from './harness.js';

const roots = async () => LocalDirRoots.open([await execRoot()]);

const info = (dirs: string[], extra: Partial<{ subDirsPerLocalDir: number; shuffleManager: string }> = {}) => ({
  localDirs: dirs,
  subDirsPerLocalDir: 64,
  shuffleManager: 'sort',
  ...extra,
});

describe('ExecutorRegistry', () => {
  it('keeps registrations across close and reopen, and removes a whole application', async () => {
    const store = join(await tempDir(), 'store');
    const a = await localDirs(2);
    const r1 = await ExecutorRegistry.open(store, [], await roots());
    await r1.register('app-1', '1', info(a.dirs));
    await r1.register('app-1', '2', info([a.dirs[0]!], { shuffleManager: 'org.apache.spark.shuffle.sort.SortShuffleManager' }));
    await r1.register('app-2', '1', info([a.dirs[1]!], { subDirsPerLocalDir: 8 }));
    // Registering again replaces.
    await r1.register('app-2', '1', info([a.dirs[1]! + '/'], { subDirsPerLocalDir: 16 }));
    await r1.close();

    const r2 = await ExecutorRegistry.open(store, [], await roots());
    expect(r2.size).toBe(3);
    expect(r2.applications).toBe(2);
    expect(r2.get('app-1', '1')).toEqual(info(a.dirs));
    expect(r2.get('app-2', '1')).toEqual(info([a.dirs[1]!], { subDirsPerLocalDir: 16 }));
    expect(r2.get('app-1', '3')).toBeUndefined();
    const removed = await r2.removeApp('app-1');
    expect(removed).toHaveLength(2);
    expect(await r2.removeApp('app-1')).toEqual([]);
    await r2.close();

    const r3 = await ExecutorRegistry.open(store, [], await roots());
    expect(r3.size).toBe(1);
    expect(r3.get('app-1', '1')).toBeUndefined();
    expect(r3.get('app-2', '1')?.subDirsPerLocalDir).toBe(16);
    await r3.close();
  });

  it('refuses registrations it cannot serve or must not delete', async () => {
    const data = await tempDir();
    const ok = (await localDirs(1)).dirs;
    const bad: [string, Parameters<typeof validateExecutorInfo>[0]][] = [
      ['hash shuffle manager', info(ok, { shuffleManager: 'hash' })],
      ['empty shuffle manager', info(ok, { shuffleManager: '' })],
      ['no directories', info([])],
      ['zero sub-directories', info(ok, { subDirsPerLocalDir: 0 })],
      ['relative directory', info(['blockmgr-1'])],
      ['not normalized', info([ok[0]! + '/../x'])],
      ['doubled separator', info([ok[0]! + '//x'])],
      ['filesystem root', info(['/'])],
      ['the worker data dir', info([data])],
      ['inside the worker data dir', info([join(data, 'app')])],
      ['above the worker data dir', info([dirname(data)])],
    ];
    for (const [what, i] of bad) {
      let code: string | undefined;
      try {
        validateExecutorInfo(i, [data]);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code, what).toBe(ErrorCodes.INVALID_REQUEST);
    }
    expect(validateExecutorInfo(info(ok), [data]).localDirs).toEqual(ok);
    const r = await ExecutorRegistry.open(join(data, '.braid-ess'), [data], await roots());
    await expectCode(r.register('', '1', info(ok)), ErrorCodes.INVALID_REQUEST);
    await expectCode(r.register('app', 'a\0b', info(ok)), ErrorCodes.INVALID_REQUEST);
    await expectCode(r.register('app', '1', info(ok, { shuffleManager: 'tungsten-sort' })), ErrorCodes.INVALID_REQUEST);
    expect(r.size).toBe(0);
    await r.close();
  });
});

describe('IndexCache', () => {
  async function mapOutput(dirs: string[], mapId: number, sizes: number[]) {
    return writeMapOutput(dirs, 4, 1, mapId, sizes.map((n, r) => blockBytes(1, mapId, r, n)));
  }

  it('answers ranges from the index, including empty partitions', async () => {
    const { dirs } = await localDirs(1);
    const { dataPath, indexPath } = await mapOutput(dirs, 0, [5, 0, 7, 0]);
    const cache = new IndexCache(1 << 20);
    const index = await cache.get(indexPath, dataPath);
    expect(index.numPartitions).toBe(4);
    expect([0, 1, 2, 3].map((r) => index.range(r))).toEqual([
      { offset: 0, length: 5 },
      { offset: 5, length: 0 },
      { offset: 5, length: 7 },
      { offset: 12, length: 0 },
    ]);
    expect(() => index.range(4)).toThrow(/reduce partition 4/);
    expect(encodeIndex([Buffer.alloc(5), Buffer.alloc(0)])).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5]));
  });

  it('is an LRU bounded in bytes', async () => {
    const { dirs } = await localDirs(1);
    const outputs = [];
    for (let m = 0; m < 4; m++) outputs.push(await mapOutput(dirs, m, [10, 20, 30]));
    const weight = indexEntryWeight(outputs[0]!.indexPath, outputs[0]!.dataPath, 32);
    const cache = new IndexCache(2 * weight + weight / 2);
    for (const o of outputs.slice(0, 3)) await cache.get(o.indexPath, o.dataPath);
    expect(cache.misses).toBe(3);
    expect(cache.count).toBe(2);
    expect(cache.bytes).toBe(2 * weight);
    expect(cache.evictions).toBe(1);
    await cache.get(outputs[2]!.indexPath, outputs[2]!.dataPath); // newest: a hit
    await cache.get(outputs[1]!.indexPath, outputs[1]!.dataPath); // still there: a hit, now newest
    expect(cache.hits).toBe(2);
    await cache.get(outputs[0]!.indexPath, outputs[0]!.dataPath); // evicted earlier: a miss, evicts map 2
    expect(cache.misses).toBe(4);
    await cache.get(outputs[1]!.indexPath, outputs[1]!.dataPath);
    expect(cache.hits).toBe(3);
    await cache.get(outputs[2]!.indexPath, outputs[2]!.dataPath);
    expect(cache.misses).toBe(5);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);

    // A cache too small for any entry still answers, from the disk each time.
    const none = new IndexCache(weight - 1);
    await none.get(outputs[3]!.indexPath, outputs[3]!.dataPath);
    await none.get(outputs[3]!.indexPath, outputs[3]!.dataPath);
    expect(none.misses).toBe(2);
    expect(none.bytes).toBe(0);
  });

  it('shares one load between concurrent gets, and drops entries by directory', async () => {
    const { dirs } = await localDirs(1);
    const o = await mapOutput(dirs, 0, [1, 2]);
    const cache = new IndexCache(1 << 20);
    const [x, y] = await Promise.all([cache.get(o.indexPath, o.dataPath), cache.get(o.indexPath, o.dataPath)]);
    expect(x).toBe(y);
    expect(cache.count).toBe(1);
    cache.dropPrefix(dirs[0]! + '/');
    expect(cache.count).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it('refuses missing and corrupt files with coded errors, and caches none of them', async () => {
    const { dirs } = await localDirs(1);
    const cache = new IndexCache(1 << 20);
    const o = await mapOutput(dirs, 0, [4, 4]);
    await expectCode(cache.get(o.indexPath + '.nope', o.dataPath), ErrorCodes.UNKNOWN_FILE);
    await expectCode(cache.get(o.indexPath, o.dataPath + '.nope'), ErrorCodes.UNKNOWN_FILE);
    // The data file is shorter than the index says.
    await truncate(o.dataPath, 7);
    await expectCode(cache.get(o.indexPath, o.dataPath), ErrorCodes.DATA_LOST);
    // Not a whole number of offsets; not starting at 0; going backwards.
    const bad = join(dirs[0]!, 'bad.index');
    const offsets = (vs: number[]) => Buffer.concat(vs.map((v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b; }));
    for (const content of [Buffer.alloc(12), Buffer.alloc(0), offsets([1, 7]), offsets([0, 7, 3])]) {
      await writeFile(bad, content);
      await expectCode(cache.get(bad, o.dataPath), ErrorCodes.DATA_LOST);
    }
    expect((await stat(o.dataPath)).size).toBe(7);
    expect(cache.count).toBe(0);
  });
});
