/**
 * codec.*: micro benchmarks of the pure protocol layer (no I/O), with tinybench.
 *
 * Each tinybench call runs INNER operations so that the timer's own cost
 * (~30–50 ns per sample) stays out of sub-microsecond figures; ops/s is
 * INNER / mean latency, so garbage collection caused by the operation counts.
 * Decoding a 64 KiB PushData frame is also reported in GB/s of frame bytes,
 * against memcpy of the same bytes into a reused buffer as the baseline: the
 * whole-chunk case should beat memcpy by far (views, no copy), the split case
 * pays one gather copy and should stay near it.
 */
import { Bench } from 'tinybench';
import {
  BraidError,
  ErrorCodes,
  FrameDecoder,
  MessageType,
  RequestSlots,
  decodeMessage,
  decodeValue,
  encodeFrame,
  encodeValue,
  type Message,
  type RawFrame,
} from '../src/protocol/index.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';

const INNER = 32;
const BODY_SIZE = 64 * 1024;

/** Results are folded into this so that no benchmarked call can be optimised away. */
let sink = 0;

function concat(parts: (Buffer | undefined)[]): Buffer {
  return Buffer.concat(parts.filter((p): p is Buffer => p !== undefined)); // copy: building test input once
}

function fixtures() {
  const body = Buffer.alloc(BODY_SIZE, 0x5a);
  const push: Message = { type: MessageType.PushData, requestId: 123456, shuffleKey: 'app-1700000000000-0-7', partitionId: 4711, epoch: 2, mode: 0, body };
  const slotsRequest = {
    appId: 'app-1700000000000-0',
    shuffleId: 7,
    count: 2000,
    replicate: true,
    excluded: [
      { host: '10.0.0.12', port: 9097 },
      { host: '10.0.0.13', port: 9097 },
      { host: '10.0.0.14', port: 9097 },
    ],
  };
  const rpc: Message = { type: MessageType.RpcRequest, requestId: 99, method: RequestSlots.id, body: encodeValue(RequestSlots.request, slotsRequest) };
  const pushFrame = encodeFrame(push);
  const rpcFrame = encodeFrame(rpc);
  const pushBytes = concat([pushFrame.head, pushFrame.body]);
  // Cut mid-body: the decoder sees the prelude, header and half the body, then the rest.
  const cut = pushFrame.head.length + BODY_SIZE / 2;
  return {
    push,
    slotsRequest,
    pushBytes,
    pushFirst: pushBytes.subarray(0, cut),
    pushSecond: pushBytes.subarray(cut),
    pushRaw: rawFrameOf(pushFrame.head, body),
    rpcRaw: rawFrameOf(rpcFrame.head, rpc.body),
  };
}

/** The RawFrame the decoder would emit for an encoded frame. */
function rawFrameOf(head: Buffer, body: Buffer): RawFrame {
  const frames: RawFrame[] = [];
  new FrameDecoder().push(concat([head, body]), (f) => frames.push(f));
  return frames[0]!;
}

export const codec: BenchModule = {
  name: 'codec',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const f = fixtures();
    const decoder = new FrameDecoder();
    const onFrame = (frame: RawFrame) => {
      sink += frame.body.length;
    };
    const memcpyTarget = Buffer.allocUnsafe(f.pushBytes.length);

    const bench = new Bench({ time: opts.quick ? 300 : 1500, warmupTime: opts.quick ? 100 : 300, iterations: 32 });
    const add = (name: string, op: () => void) =>
      bench.add(name, () => {
        for (let i = 0; i < INNER; i++) op();
      });

    add('encodeFrame.pushData64k', () => {
      sink += encodeFrame(f.push).head.length;
    });
    add('encodeFrame.rpcRequest.requestSlots', () => {
      const body = encodeValue(RequestSlots.request, f.slotsRequest);
      sink += encodeFrame({ type: MessageType.RpcRequest, requestId: 99, method: RequestSlots.id, body }).head.length;
    });
    add('decoder.pushData64k.whole', () => decoder.push(f.pushBytes, onFrame));
    add('decoder.pushData64k.split', () => {
      decoder.push(f.pushFirst, onFrame);
      decoder.push(f.pushSecond, onFrame);
    });
    add('memcpy.pushData64k', () => {
      sink += f.pushBytes.copy(memcpyTarget);
    });
    add('decodeMessage.pushData', () => {
      const m = decodeMessage(f.pushRaw.type, f.pushRaw.header, f.pushRaw.body);
      sink += m.type;
    });
    add('decodeMessage.rpcRequest.requestSlots', () => {
      const m = decodeMessage(f.rpcRaw.type, f.rpcRaw.header, f.rpcRaw.body);
      if (m.type === MessageType.RpcRequest) sink += decodeValue(RequestSlots.request, m.body, 'RequestSlots').count;
    });

    await bench.run();

    const ops = new Map<string, number>();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new BraidError(ErrorCodes.INTERNAL, `codec bench ${task.name}: ${r.state === 'errored' ? r.error.message : r.state}`);
      ops.set(task.name, (INNER * 1000) / r.period);
    }
    const opsOf = (name: string) => ops.get(name)!;
    const frameGBps = (name: string) => (opsOf(name) * f.pushBytes.length) / 1e9;
    const memcpy = frameGBps('memcpy.pushData64k');
    if (sink === -1) process.stderr.write('unreachable\n');

    return [
      result('codec.encodeFrame.pushData64k', opsOf('encodeFrame.pushData64k'), 'ops/s'),
      result('codec.encodeFrame.rpcRequest.requestSlots', opsOf('encodeFrame.rpcRequest.requestSlots'), 'ops/s'),
      result('codec.decoder.pushData64k.whole', opsOf('decoder.pushData64k.whole'), 'ops/s'),
      result('codec.decoder.pushData64k.whole.gbps', frameGBps('decoder.pushData64k.whole'), 'GB/s', memcpy),
      result('codec.decoder.pushData64k.split', opsOf('decoder.pushData64k.split'), 'ops/s'),
      result('codec.decoder.pushData64k.split.gbps', frameGBps('decoder.pushData64k.split'), 'GB/s', memcpy),
      result('codec.decodeMessage.pushData', opsOf('decodeMessage.pushData'), 'ops/s'),
      result('codec.decodeMessage.rpcRequest.requestSlots', opsOf('decodeMessage.rpcRequest.requestSlots'), 'ops/s'),
    ];
  },
};
