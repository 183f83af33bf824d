/**
 * small_shuffle.rtts: what a tiny shuffle costs, counted in loopback round
 * trips measured in the same run.
 *
 * Shuffle: an in-process standalone cluster (master + 2 workers, replication
 * on), a LifecycleManager and one ShuffleClient (lz4, the defaults), all in
 * this process, connections warm. One iteration, timed whole: a fresh
 * shuffleId; 1 map pushes one 100-byte record to each of 10 partitions
 * (pushData, awaited one after another; the first registers the shuffle:
 * slots from the master, reservations on the workers); mapperEnd (waits for
 * the 10 acknowledgements, then the LifecycleManager sees the stage end and
 * commits on the workers); then the 10 partitions are read in parallel
 * (reducer file group, open stream, fetch) and each must yield the record.
 * The shuffle is unregistered after the clock stops.
 *
 * RTT: a ping-pong over plain node:net between this process and the raw
 * push-server peer, one message outstanding: 32 bytes out (a 4-byte length
 * prefix and 28 bytes), the peer's 4-byte ack back. The median of single
 * round trips.
 *
 * Blocks of pings and of shuffles alternate. value = median shuffle ms,
 * baseline = median RTT ms, ratio = how many round trips a small shuffle costs.
 */
import { connect, type Socket } from 'node:net';
import { LifecycleManager } from '../src/client/lifecycle/index.js';
import { ShuffleClient } from '../src/client/shuffle-client.js';
import { BraidError, ErrorCodes } from '../src/protocol/index.js';
import { startStandalone } from '../src/server/standalone.js';
import { peerScript, spawnPeer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { benchAppKey, benchSecret } from './lib/security.js';

const PARTITIONS = 10;
const RECORD_BYTES = 100;
const PING_BYTES = 32;

/** Round trips of one ping each on one connection; ms per round trip. */
async function pingPong(socket: Socket, count: number): Promise<number[]> {
  const ping = Buffer.alloc(PING_BYTES);
  ping.writeUInt32BE(PING_BYTES - 4, 0);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      let got = 0;
      const onData = (chunk: Buffer) => {
        got += chunk.length;
        if (got < 4) return;
        socket.off('data', onData);
        socket.off('error', reject);
        resolve();
      };
      socket.on('data', onData);
      socket.once('error', reject);
      socket.write(ping);
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return times;
}

export const smallShuffle: BenchModule = {
  name: 'small_shuffle',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const rounds = opts.quick ? 5 : 10;
    const shufflesPerRound = opts.quick ? 8 : 30;
    const pingsPerRound = opts.quick ? 200 : 1000;
    const peer = await spawnPeer(peerScript('push-server'), ['raw'], { profile: opts.profile, profileName: 'push-server-raw' });
    const cluster = await startStandalone({ workers: 2, authSecret: benchSecret() });
    const appId = `bench-small-${process.pid}`;
    const lm = await LifecycleManager.start({ appId, master: cluster.masterAddress, authToken: benchAppKey(appId) });
    const client = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: benchAppKey(appId) });
    const socket = connect({ host: '127.0.0.1', port: peer.port, noDelay: true });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const records = Array.from({ length: PARTITIONS }, (_, p) => Buffer.alloc(RECORD_BYTES, 0x41 + p));
    let nextShuffle = 1;

    const shuffleOnce = async (): Promise<number> => {
      const shuffleId = nextShuffle++;
      const t0 = process.hrtime.bigint();
      for (let p = 0; p < PARTITIONS; p++) await client.pushData(shuffleId, 0, 0, p, records[p]!, 0, RECORD_BYTES, 1, PARTITIONS);
      await client.mapperEnd(shuffleId, 0, 0, 1);
      const read = await Promise.all(
        records.map(async (_, p) => {
          const got: Buffer[] = [];
          for await (const b of client.readPartition(shuffleId, p)) got.push(b);
          return got;
        }),
      );
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      read.forEach((got, p) => {
        if (got.length !== 1 || !got[0]!.equals(records[p]!)) throw new BraidError(ErrorCodes.DATA_LOST, `shuffle ${shuffleId} partition ${p}: read ${got.length} batches, not the record pushed`);
      });
      await lm.unregisterShuffle(shuffleId);
      return ms;
    };

    const shuffles: number[] = [];
    const rtts: number[] = [];
    try {
      // Warm-up: JIT, every connection (client → LM, client → both workers, worker → replica).
      for (let i = 0; i < 5; i++) await shuffleOnce();
      await pingPong(socket, 100);
      for (let r = 0; r < rounds; r++) {
        rtts.push(...(await pingPong(socket, pingsPerRound)));
        for (let i = 0; i < shufflesPerRound; i++) shuffles.push(await shuffleOnce());
      }
    } finally {
      socket.destroy();
      await client.close();
      await lm.close();
      await cluster.close();
      await peer.stop();
    }
    const shuffleMs = median(shuffles);
    const rttMs = median(rtts);
    const p90 = [...shuffles].sort((a, b) => a - b)[Math.floor(shuffles.length * 0.9)]!;
    process.stderr.write(
      `small_shuffle: 1 map x ${PARTITIONS} partitions, ${RECORD_BYTES}-byte records, ${shuffles.length} shuffles: median ${shuffleMs.toFixed(2)} ms (p90 ${p90.toFixed(2)} ms)\n` +
        `  ping-pong RTT (${PING_BYTES} B, 1 outstanding, ${rtts.length} round trips): median ${(rttMs * 1000).toFixed(1)} µs\n` +
        `  = ${(shuffleMs / rttMs).toFixed(0)} round trips\n`,
    );
    return [result('small_shuffle.rtts', shuffleMs, 'ms', rttMs)];
  },
};
