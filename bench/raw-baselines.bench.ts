/**
 * raw: reference figures of this machine, with no Braid code in the path, to
 * read the product figures against.
 *
 * raw.socket: node:net, one connection between two processes (this one and
 *   the raw push-server peer), the sender writing one reused 1 MiB Buffer
 *   again and again (waiting for 'drain' when write() says so) as the body
 *   of one length-prefixed message; the peer counts the bytes and acks once
 *   at the end. Timed from the first write to the ack.
 * raw.disk: sequential appends of one reused 1 MiB Buffer to a new file in
 *   os.tmpdir() (where the standalone cluster keeps its data), one write in
 *   flight, no fsync, timed to the close; the file is removed after each run,
 *   so every run writes into new page-cache pages (the "fresh memory" cost in
 *   MACHINE.md, which any new shuffle data pays too).
 * raw.disk.read: reading that file back sequentially into one reused 1 MiB
 *   Buffer right after it was written (page cache hot).
 *
 * Values in GB/s (10^9 bytes/s), medians; no baseline (they are the baselines).
 */
import { open, mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BraidError, ErrorCodes } from '../src/protocol/index.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer, type Peer } from './lib/peer.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';

const MiB = 1024 * 1024;
const WRITE_SIZE = MiB;

function makeBuffer(): Buffer {
  const b = Buffer.allocUnsafe(WRITE_SIZE);
  for (let i = 0; i < b.length; i++) b[i] = (i * 2654435761) >>> 24;
  return b;
}

async function receivedBytes(peer: Peer): Promise<number> {
  return Number((await peer.query('STAT')).split(' ')[0]);
}

/** One message of `total` bytes, written as 1 MiB writes of `buf`; resolves with GB/s once the peer has acked it. */
async function socketRun(peer: Peer, buf: Buffer, total: number): Promise<number> {
  const before = await receivedBytes(peer);
  const ns = await new Promise<number>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: peer.port, noDelay: true });
    let t0 = 0n;
    socket.on('error', reject);
    socket.once('data', () => {
      const elapsed = Number(process.hrtime.bigint() - t0);
      socket.destroy();
      resolve(elapsed);
    });
    socket.once('connect', () => {
      t0 = process.hrtime.bigint();
      const prefix = Buffer.alloc(4);
      prefix.writeUInt32BE(total, 0);
      socket.write(prefix);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += WRITE_SIZE;
          if (!socket.write(buf)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
  const got = (await receivedBytes(peer)) - before;
  if (got !== total) throw new BraidError(ErrorCodes.DATA_LOST, `raw socket peer received ${got} bytes, expected ${total}`);
  return total / ns;
}

/** Appends `total` bytes to a new file and reads them back; GB/s of each. */
async function diskRun(dir: string, buf: Buffer, total: number): Promise<{ write: number; read: number }> {
  const path = join(dir, 'raw-disk.bin');
  try {
    let t0 = process.hrtime.bigint();
    const w = await open(path, 'w');
    try {
      for (let done = 0; done < total; done += WRITE_SIZE) {
        const { bytesWritten } = await w.write(buf, 0, WRITE_SIZE);
        if (bytesWritten !== WRITE_SIZE) throw new BraidError(ErrorCodes.INTERNAL, `short write: ${bytesWritten} of ${WRITE_SIZE} bytes`);
      }
    } finally {
      await w.close();
    }
    const writeNs = Number(process.hrtime.bigint() - t0);
    t0 = process.hrtime.bigint();
    const r = await open(path, 'r');
    let read = 0;
    try {
      for (;;) {
        const { bytesRead } = await r.read(buf, 0, WRITE_SIZE, null);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
    } finally {
      await r.close();
    }
    const readNs = Number(process.hrtime.bigint() - t0);
    if (read !== total) throw new BraidError(ErrorCodes.DATA_LOST, `read back ${read} bytes of ${total}`);
    return { write: total / writeNs, read: total / readNs };
  } finally {
    await rm(path, { force: true });
  }
}

export const rawBaselines: BenchModule = {
  name: 'raw',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 7;
    const socketBytes = opts.quick ? 512 * MiB : 2048 * MiB;
    const diskBytes = opts.quick ? 256 * MiB : 1024 * MiB;
    const buf = makeBuffer();
    const peer = await spawnPeer(peerScript('push-server'), ['raw'], { profile: opts.profile, profileName: 'push-server-raw' });
    const dir = await mkdtemp(join(tmpdir(), 'braid-bench-raw-'));
    const socket: number[] = [];
    const write: number[] = [];
    const read: number[] = [];
    try {
      await socketRun(peer, buf, 64 * MiB); // warm-up: JIT, socket buffers
      for (let i = 0; i < runs; i++) {
        socket.push(await socketRun(peer, buf, socketBytes));
        const d = await diskRun(dir, buf, diskBytes);
        write.push(d.write);
        read.push(d.read);
      }
    } finally {
      await peer.stop();
      await rm(dir, { recursive: true, force: true });
    }
    const runsOf = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
    process.stderr.write(
      `raw.socket: 1 connection, ${formatBytes(WRITE_SIZE)} writes, ${formatBytes(socketBytes)} x ${runs}: ${median(socket).toFixed(2)} GB/s  runs: ${runsOf(socket)}\n` +
        `raw.disk: ${formatBytes(diskBytes)} x ${runs} in ${formatBytes(WRITE_SIZE)} writes to a new file in ${tmpdir()}: write ${median(write).toFixed(2)} GB/s  runs: ${runsOf(write)}\n` +
        `  (the first run writes into memory new to the page cache; later runs mostly reuse the pages the removed file freed)\n` +
        `  read back (hot) ${median(read).toFixed(2)} GB/s  runs: ${runsOf(read)}\n`,
    );
    return [result('raw.socket', median(socket), 'GB/s'), result('raw.disk', median(write), 'GB/s'), result('raw.disk.read', median(read), 'GB/s')];
  },
};
