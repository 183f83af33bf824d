import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../src/protocol/errors.js';
import { defaultMetaPath, MetaStore, type CommittedRecord } from '../../src/storage/meta-store.js';
import { tempDir } from './helpers.js';

const record = (n: number): CommittedRecord => ({
  path: `/data/x/${n}`,
  bytes: 1000 + n,
  chunkOffsets: [0, 500, 1000 + n],
  mapIds: [1, 2, n],
  mapAttempts: [0, 1, 0],
});

describe('MetaStore', () => {
  let tmp: { path: string; remove: () => Promise<void> };
  let store: MetaStore | undefined;
  beforeEach(async () => {
    tmp = await tempDir('meta');
  });
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await tmp.remove();
  });

  const keys = (entries: Awaited<ReturnType<MetaStore['loadAll']>>) =>
    entries.map((e) => `${e.appId}/${e.shuffleId}/${e.fileName}`).sort();

  it('persists committed files across close and reopen', async () => {
    const path = defaultMetaPath(tmp.path);
    expect(path).toBe(join(tmp.path, '.braid-meta'));
    store = await MetaStore.open(path);
    await store.putCommitted('app', 1, '0-0-primary', record(1));
    await store.putCommitted('app', 1, '1-0-replica', record(2));
    await store.putCommitted('other', 7, '3-2-primary', record(3));
    await store.putCommitted('app', 1, '0-0-primary', record(4)); // overwrite
    await store.close();
    store = await MetaStore.open(path);
    const all = await store.loadAll();
    expect(keys(all)).toEqual(['app/1/0-0-primary', 'app/1/1-0-replica', 'other/7/3-2-primary']);
    expect(all.find((e) => e.fileName === '0-0-primary')?.record).toEqual(record(4));
    expect(all.find((e) => e.appId === 'other')).toEqual({ appId: 'other', shuffleId: 7, fileName: '3-2-primary', record: record(3) });
  });

  it('range-deletes one shuffle without touching shuffles or apps sharing a prefix', async () => {
    store = await MetaStore.open(join(tmp.path, 'm'));
    await store.putCommitted('app', 1, 'a', record(1));
    await store.putCommitted('app', 1, 'b', record(1));
    await store.putCommitted('app', 10, 'a', record(1));
    await store.putCommitted('app', 2, 'a', record(1));
    await store.putCommitted('app1', 1, 'a', record(1));
    await store.deleteShuffle('app', 1);
    expect(keys(await store.loadAll())).toEqual(['app/10/a', 'app/2/a', 'app1/1/a']);
  });

  it('range-deletes one application', async () => {
    store = await MetaStore.open(join(tmp.path, 'm'));
    await store.putCommitted('app', 1, 'a', record(1));
    await store.putCommitted('app', 5, 'b', record(1));
    await store.putCommitted('app-2', 1, 'a', record(1));
    await store.putCommitted('ap', 1, 'a', record(1));
    await store.deleteApp('app');
    expect(keys(await store.loadAll())).toEqual(['ap/1/a', 'app-2/1/a']);
    await store.close();
    store = await MetaStore.open(join(tmp.path, 'm'));
    expect(keys(await store.loadAll())).toEqual(['ap/1/a', 'app-2/1/a']);
  });

  it('rejects names that would break the key layout', async () => {
    store = await MetaStore.open(join(tmp.path, 'm'));
    await expect(store.putCommitted('a\u0000b', 1, 'f', record(1))).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(store.putCommitted('a', 1, 'f/g', record(1))).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
    await expect(store.putCommitted('a', 1.5, 'f', record(1))).rejects.toMatchObject({ code: ErrorCodes.INVALID_REQUEST });
  });
});
