/**
 * A socket may cut the byte stream anywhere. For every sample frame (and a
 * stream of three frames back to back) the decoder must emit exactly the
 * same frames whether the bytes arrive in one chunk, two chunks cut at every
 * offset, three chunks (all cut pairs for small inputs, a strided subset plus
 * every offset near a prelude/header/frame boundary for larger ones), or one
 * byte at a time. It also checks the zero-copy contract: a frame wholly
 * inside one chunk is a view of that chunk; a header+body that spans chunks
 * is gathered into a buffer of its own.
 */
import { describe, expect, it } from 'vitest';
import { FrameDecoder, MessageType, PRELUDE_SIZE, decodeMessage, messageName, type Message, type RawFrame } from '../../src/protocol/index.js';
import { EDGE_FRAME_SAMPLES, FRAME_SAMPLES, frameBytes, isolated } from './samples.js';

/** All (i, j) pairs up to this many bytes; beyond it, a sampled set of cut points. */
const ALL_PAIRS_UP_TO = 128;
const SAMPLED_CUTS = 120;

interface Case {
  name: string;
  messages: Message[];
  /** The wire image of each message alone. */
  parts: Buffer[];
  bytes: Buffer;
  /** Byte ranges [payloadStart, frameEnd) of each frame in `bytes`. */
  payloads: [number, number][];
  /** Offsets where the decoder changes state: frame starts, prelude ends, header ends, frame ends. */
  boundaries: number[];
}

function makeCase(name: string, messages: Message[]): Case {
  const parts = messages.map(frameBytes);
  const payloads: [number, number][] = [];
  const boundaries: number[] = [];
  let at = 0;
  for (const p of parts) {
    const headerLength = p.readUInt32BE(4);
    payloads.push([at + PRELUDE_SIZE, at + p.length]);
    boundaries.push(at, at + PRELUDE_SIZE, at + PRELUDE_SIZE + headerLength, at + p.length);
    at += p.length;
  }
  return { name, messages, parts, bytes: Buffer.concat(parts), payloads, boundaries };
}

const byType = (t: MessageType): Message => FRAME_SAMPLES.find((m) => m.type === t)!;

const CASES: Case[] = [
  ...FRAME_SAMPLES.map((m) => makeCase(messageName(m.type), [m])),
  ...EDGE_FRAME_SAMPLES.map((m, i) => makeCase(`edge ${i}: ${messageName(m.type)}`, [m])),
  makeCase('stream: PushMergedData + Heartbeat + RpcResponse', [
    byType(MessageType.PushMergedData),
    byType(MessageType.Heartbeat),
    byType(MessageType.RpcResponse),
  ]),
  makeCase('stream: Heartbeat + ChunkFetchSuccess + PushResponse', [
    byType(MessageType.Heartbeat),
    byType(MessageType.ChunkFetchSuccess),
    byType(MessageType.PushResponse),
  ]),
];

/** Cut points for the three-chunk test: every offset when small, else a grid plus the neighbourhood of every boundary. */
function cutPoints(c: Case): number[] {
  const n = c.bytes.length;
  if (n <= ALL_PAIRS_UP_TO) return Array.from({ length: n + 1 }, (_, i) => i);
  const cuts = new Set<number>([0, n]);
  const stride = Math.ceil(n / SAMPLED_CUTS);
  // The grid is shifted by a different amount per row so cuts do not all share one residue.
  for (let k = 0; k * stride <= n; k++) cuts.add(Math.min(n, k * stride + (k % stride)));
  for (const b of c.boundaries) {
    for (let d = -3; d <= 3; d++) if (b + d >= 0 && b + d <= n) cuts.add(b + d);
  }
  return [...cuts].sort((a, b) => a - b);
}

/** Feeds `chunks` to one fresh decoder; checks frames, messages and zero-copy; throws a descriptive Error on mismatch. */
function check(c: Case, cuts: number[], reference: RawFrame[]): void {
  const chunks: Buffer[] = [];
  const starts: number[] = [];
  let prev = 0;
  for (const cut of [...cuts, c.bytes.length]) {
    starts.push(prev);
    chunks.push(isolated(c.bytes.subarray(prev, cut)));
    prev = cut;
  }
  const frames: RawFrame[] = [];
  const decoder = new FrameDecoder();
  for (const chunk of chunks) decoder.push(chunk, (f) => frames.push(f));

  const where = `${c.name}, cuts [${cuts.join(', ')}]`;
  if (frames.length !== reference.length) throw new Error(`${where}: ${frames.length} frames, expected ${reference.length}`);
  if (decoder.buffered !== 0) throw new Error(`${where}: ${decoder.buffered} bytes left buffered`);
  for (let k = 0; k < frames.length; k++) {
    const f = frames[k]!;
    const r = reference[k]!;
    if (f.type !== r.type || !f.header.equals(r.header) || !f.body.equals(r.body)) throw new Error(`${where}: frame ${k} differs`);
    // decodeMessage is a pure function of the raw frame, so equal raw frames give equal messages; the
    // two-chunk and byte-at-a-time runs check the messages themselves too (three-chunk skips it for time).
    if (cuts.length !== 2 && !frameBytes(decodeMessage(f.type, f.header, f.body)).equals(c.parts[k]!)) {
      throw new Error(`${where}: message ${k} differs`);
    }

    // Zero copy: a whole frame inside one chunk is a view of that chunk; a payload that spans chunks is
    // gathered. (A frame whose prelude and payload arrive in different chunks may go either way.)
    const [from, to] = c.payloads[k]!;
    const holder = chunks.findIndex((ch, i) => starts[i]! <= from - PRELUDE_SIZE && to <= starts[i]! + ch.length);
    const payloadSpans = !chunks.some((ch, i) => starts[i]! <= from && to <= starts[i]! + ch.length);
    if (holder >= 0) {
      const ch = chunks[holder]!;
      if (f.header.buffer !== ch.buffer || f.header.byteOffset !== ch.byteOffset + (from - starts[holder]!)) {
        throw new Error(`${where}: frame ${k} lies in chunk ${holder} but its header is not a view of it`);
      }
      if (f.body.length > 0 && f.body.buffer !== ch.buffer) throw new Error(`${where}: frame ${k} body is not a view of chunk ${holder}`);
    } else if (payloadSpans && chunks.some((ch) => ch.buffer === f.header.buffer)) {
      throw new Error(`${where}: frame ${k} spans chunks but its header points into one of them`);
    }
  }
}

function referenceFrames(c: Case): RawFrame[] {
  const frames: RawFrame[] = [];
  new FrameDecoder().push(c.bytes, (f) => frames.push(f));
  return frames;
}

describe('decoder under every split', () => {
  it('the cases are decodable in one chunk', () => {
    for (const c of CASES) {
      const ref = referenceFrames(c);
      expect(ref.map((f) => decodeMessage(f.type, f.header, f.body))).toEqual(c.messages);
    }
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: two chunks, cut at every offset', (_name, c) => {
    const ref = referenceFrames(c);
    for (let i = 0; i <= c.bytes.length; i++) check(c, [i], ref);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: three chunks', (_name, c) => {
    const ref = referenceFrames(c);
    const cuts = cutPoints(c);
    let pairs = 0;
    for (let a = 0; a < cuts.length; a++) {
      for (let b = a; b < cuts.length; b++) {
        check(c, [cuts[a]!, cuts[b]!], ref);
        pairs++;
      }
    }
    expect(pairs).toBeGreaterThan(0);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s: one byte at a time', (_name, c) => {
    check(
      c,
      Array.from({ length: c.bytes.length - 1 }, (_, i) => i + 1),
      referenceFrames(c),
    );
  });

  it('empty chunks between real ones change nothing', () => {
    const c = CASES[CASES.length - 1]!;
    const frames: RawFrame[] = [];
    const d = new FrameDecoder();
    d.push(Buffer.alloc(0), (f) => frames.push(f));
    d.push(c.bytes.subarray(0, 5), (f) => frames.push(f));
    d.push(Buffer.alloc(0), (f) => frames.push(f));
    d.push(c.bytes.subarray(5), (f) => frames.push(f));
    d.push(Buffer.alloc(0), (f) => frames.push(f));
    expect(frames.map((f) => decodeMessage(f.type, f.header, f.body))).toEqual(c.messages);
  });

  it('buffered reports the bytes held for an incomplete frame', () => {
    const c = CASES[0]!;
    const d = new FrameDecoder();
    d.push(c.bytes.subarray(0, 5), () => expect.unreachable());
    expect(d.buffered).toBe(5);
    d.push(c.bytes.subarray(5, PRELUDE_SIZE + 3), () => expect.unreachable());
    expect(d.buffered).toBeGreaterThan(0);
    let n = 0;
    d.push(c.bytes.subarray(PRELUDE_SIZE + 3), () => n++);
    expect(n).toBe(1);
    expect(d.buffered).toBe(0);
  });
});
