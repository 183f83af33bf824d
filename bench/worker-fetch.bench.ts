/**
 * worker.fetch: reading one committed partition from a real worker process,
 * against a raw node:net server reading the same file, in the same run.
 *
 * Setup (untimed): the worker (peers/worker-server.js, chunkSize 8 MiB — the
 * default —, chunkCacheSize 0 so every chunk is read from the file) takes
 * 1 GiB (quick: 256 MiB) of 1 MiB PushData batches into partition 0 and
 * commits it.
 *
 * Braid: OpenStream on a Client connection, then ChunkFetch of every chunk
 * in order with FETCH_AHEAD requests in flight (the client's default
 * fetchAhead); this process only counts the bytes of each chunk it gets.
 * Raw (peers/worker-raw.js): the same file, read by the peer in 1 MiB pieces
 * into 4 reused buffers and written to a plain socket; this process counts
 * the bytes as they arrive.
 *
 * Hot: the file was just written or read (page cache warm). Cold: before
 * every run `echo 1 > /proc/sys/vm/drop_caches` (needs root; `sync` once first);
 * where that is refused, the full run instead reads two freshly written
 * files after 70 s idle (MACHINE.md: idle pages are evicted within about a
 * minute) and the quick run reports hot only.
 */
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import {
  ALL_MAPS,
  BATCH_HEADER_SIZE,
  BraidError,
  CommitFiles,
  ErrorCodes,
  MessageType,
  Mode,
  PushStatus,
  ReserveSlots,
  Role,
  locationFileName,
  writeBatchHeader,
} from '../src/protocol/index.js';
import { connect, type Connection } from '../src/transport/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { describe, timed, type Sample } from './worker-push.bench.js';
import { benchAppKey } from './lib/security.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const APP = 'bench';
const CHUNK_SIZE = 8 * MiB;
const FETCH_AHEAD = 4;
const EVICTION_WAIT_MS = 70_000;

/** Reads a whole file from a worker-raw peer; resolves with the byte count. */
export function rawFetch(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const name = Buffer.from(path);
    const head = Buffer.alloc(3);
    head[0] = 0x46;
    head.writeUInt16BE(name.length, 1);
    const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
    let size = -1;
    let got = 0;
    let sizeHead = Buffer.alloc(0);
    socket.on('connect', () => socket.write(Buffer.concat([head, name])));
    socket.on('data', (chunk: Buffer) => {
      let body = chunk;
      if (size < 0) {
        sizeHead = Buffer.concat([sizeHead, chunk]); // copy: the first few bytes only
        if (sizeHead.length < 8) return;
        size = Number(sizeHead.readBigUInt64BE(0));
        body = sizeHead.subarray(8);
      }
      got += body.length;
      if (got >= size) {
        socket.destroy();
        if (got === size) resolve(got);
        else reject(new BraidError(ErrorCodes.PROTOCOL, `raw fetch got ${got} bytes of ${size}`));
      }
    });
    socket.on('error', reject);
  });
}

/** Opens a stream on `fileName` and fetches every chunk, `ahead` in flight; resolves with the byte count. */
export async function braidFetch(conn: Connection, shuffleKey: string, fileName: string, ahead: number): Promise<number> {
  const h = await conn.request({ type: MessageType.OpenStream, shuffleKey, fileName, startMapIndex: 0, endMapIndex: ALL_MAPS });
  if (h.type !== MessageType.StreamHandle) throw new BraidError(ErrorCodes.PROTOCOL, `OpenStream answered type ${h.type}`);
  let next = 0;
  let bytes = 0;
  const lane = async () => {
    while (next < h.numChunks) {
      const chunk = await conn.fetchChunk(h.streamId, next++);
      bytes += chunk.length; // after the await: `bytes += await …` would read bytes before it
    }
  };
  await Promise.all(Array.from({ length: Math.min(ahead, h.numChunks) }, lane));
  if (bytes !== h.totalBytes) throw new BraidError(ErrorCodes.DATA_LOST, `fetched ${bytes} bytes of ${h.totalBytes}`);
  return bytes;
}

/** Writes partition `partitionId` of shuffle `shuffleId` with 1 MiB batches and commits it; returns its size. */
async function writePartition(lm: Connection, client: Connection, shuffleId: number, partitionId: number, bytes: number): Promise<number> {
  const files = [{ partitionId, epoch: 0, mode: Mode.Primary, peer: undefined }];
  // A split threshold above the file's size: a 1 GiB partition would otherwise get SOFT_SPLIT answers.
  await lm.call(ReserveSlots, { appId: APP, shuffleId, files, splitThreshold: 2 * bytes });
  const body = Buffer.allocUnsafe(MiB);
  for (let i = BATCH_HEADER_SIZE; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
  writeBatchHeader(body, 0, { mapId: 0, attemptId: 0, batchId: 0, length: body.length - BATCH_HEADER_SIZE });
  let next = 0;
  const count = bytes / MiB;
  const lane = async () => {
    while (next++ < count) {
      const r = await client.request({ type: MessageType.PushData, shuffleKey: `${APP}-${shuffleId}`, partitionId, epoch: 0, mode: Mode.Primary, body });
      if (r.type !== MessageType.PushResponse || r.statuses[0] !== PushStatus.SUCCESS) throw new BraidError(ErrorCodes.PUSH_FAILED, 'setup push refused');
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  const c = await lm.call(CommitFiles, { appId: APP, shuffleId, files, mapAttempts: [] });
  if (c.committed.length !== 1) throw new BraidError(ErrorCodes.WRITE_FAILED, 'setup commit failed');
  return c.committed[0]!.bytes;
}

/**
 * Drops the clean page cache (root only); false where the kernel refuses.
 * Only `withSync` runs sync first: the file is written once, so after one
 * sync its pages stay clean, and a system-wide sync on a shared machine can
 * take seconds of other people's writes.
 */
function dropCaches(withSync = false): boolean {
  try {
    if (withSync) execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '1\n');
    return true;
  } catch {
    return false;
  }
}

export const workerFetch: BenchModule = {
  name: 'worker.fetch',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 7;
    const fileBytes = opts.quick ? 256 * MiB : 1024 * MiB;
    const [worker, raw] = await Promise.all([
      spawnPeer(peerScript('worker-server'), ['--chunk-size', String(CHUNK_SIZE), '--chunk-cache-size', '0'], {
        profile: opts.profile,
        profileName: 'worker-server-fetch',
      }),
      spawnPeer(peerScript('worker-raw'), [], { profile: opts.profile, profileName: 'worker-raw-fetch' }),
    ]);
    const conns: Connection[] = [];
    const results: BenchResult[] = [];
    try {
      const lm = await connect({ host: '127.0.0.1', port: worker.port }, { role: Role.LifecycleManager, appId: APP, key: benchAppKey(APP) });
      const client = await connect({ host: '127.0.0.1', port: worker.port }, { role: Role.Client, appId: APP, key: benchAppKey(APP) });
      conns.push(lm, client);
      const dir = await worker.query('DIR');
      const pathOf = (shuffleId: number) => join(dir, APP, String(shuffleId), locationFileName(0, 0, Mode.Primary));
      const size = await writePartition(lm, client, 1, 0, fileBytes);

      const variantsFor = (braidShuffle: number, rawShuffle: number) => [
        { name: 'raw', run: () => timed(raw, size, async () => void (await rawFetch(raw.port, pathOf(rawShuffle)))) },
        { name: 'braid', run: () => timed(worker, size, async () => void (await braidFetch(client, `${APP}-${braidShuffle}`, locationFileName(0, 0, Mode.Primary), FETCH_AHEAD))) },
      ];
      const report = (name: string, what: string, samples: Record<string, Sample[]>) => {
        const r = median(samples.raw!.map((s) => s.gbps));
        const b = median(samples.braid!.map((s) => s.gbps));
        process.stderr.write(
          `${name}: ${what}, ${formatBytes(size)} file, chunkSize ${formatBytes(CHUNK_SIZE)}, ${FETCH_AHEAD} chunks in flight, chunk cache off, ${samples.raw!.length} runs\n` +
            `  raw   ${describe(samples.raw!)}\n` +
            `  braid ${describe(samples.braid!)}\n`,
        );
        results.push(result(name, b, 'GB/s', r));
      };

      // Hot: one untimed read each warms the JIT and leaves the file in the page cache.
      const hot = variantsFor(1, 1);
      for (const v of hot) await v.run();
      const hotSamples: Record<string, Sample[]> = { raw: [], braid: [] };
      for (let i = 0; i < runs; i++) {
        for (const v of i % 2 === 0 ? hot : [...hot].reverse()) hotSamples[v.name]!.push(await v.run());
      }
      report('worker.fetch', 'hot', hotSamples);

      const coldSamples: Record<string, Sample[]> = { raw: [], braid: [] };
      if (dropCaches(true)) {
        for (let i = 0; i < runs; i++) {
          for (const v of i % 2 === 0 ? hot : [...hot].reverse()) {
            dropCaches();
            coldSamples[v.name]!.push(await v.run());
          }
        }
        report('worker.fetch.cold', 'cold (drop_caches before each run)', coldSamples);
      } else if (!opts.quick) {
        // Each round: two new files, left alone until the page cache lets them go, one read by each variant.
        for (let i = 0; i < 3; i++) {
          const a = 2 + 2 * i;
          await writePartition(lm, client, a, 0, fileBytes);
          await writePartition(lm, client, a + 1, 0, fileBytes);
          await new Promise((r) => setTimeout(r, EVICTION_WAIT_MS));
          const [rawV, braidV] = variantsFor(a, a + 1);
          for (const v of i % 2 === 0 ? [rawV!, braidV!] : [braidV!, rawV!]) coldSamples[v.name]!.push(await v.run());
        }
        report('worker.fetch.cold', `cold (drop_caches refused: new files after ${EVICTION_WAIT_MS / 1000} s idle)`, coldSamples);
      } else {
        process.stderr.write('worker.fetch.cold: skipped (drop_caches refused here; the full run waits for eviction instead)\n');
      }
    } finally {
      for (const c of conns) c.close();
      await Promise.all([worker.stop(), raw.stop()]);
    }
    return results;
  },
};
