/**
 * The decoder and every codec must survive any byte sequence: the only thing
 * they may throw is ProtocolError, and the decoder must never allocate more
 * than its frame limit. Inputs come from a seeded PRNG (mulberry32) so a
 * failure reproduces: rerun with BRAID_FUZZ_SEED=<seed from the message>.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  PROTOCOL_VERSION,
  DEFAULT_DECODER_LIMITS,
  ErrorCodes,
  FrameDecoder,
  METHODS,
  MessageType,
  PRELUDE_SIZE,
  ProtocolError,
  checkSingleBatch,
  decodeMessage,
  decodeValue,
  encodeFrame,
  encodeValue,
  forEachBatch,
  methodById,
  openPayload,
  type Codec,
  type DecoderLimits,
  type RawFrame,
} from '../../src/protocol/index.js';
import { Rng } from './prng.js';
import { CONTROL_SAMPLES, EDGE_FRAME_SAMPLES, FRAME_SAMPLES, frameBytes, thrownBy } from './samples.js';

const BASE_SEED = Number(process.env.BRAID_FUZZ_SEED ?? 0x5eed_b4a1);
/** Set to keep stack traces on the errors thrown while fuzzing (slower: capturing them is most of the cost). */
const KEEP_STACKS = process.env.BRAID_FUZZ_STACKS !== undefined;
const RERUN = `rerun with BRAID_FUZZ_SEED=${BASE_SEED} BRAID_FUZZ_STACKS=1`;
const LIMITS: DecoderLimits = { maxFrameSize: 4096, maxHeaderSize: 1024 };

/** Runs a fuzz loop with stack capture off: >100k ProtocolErrors are thrown, and their stacks are never read. */
function withoutStacks<T>(fn: () => T): T {
  const saved = Error.stackTraceLimit;
  if (!KEEP_STACKS) Error.stackTraceLimit = 0;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = saved;
  }
}

// ---------------------------------------------------------------- allocation watch

let measuring = false;
let largestAlloc = 0;
const spies: { mockClear(): unknown; mockRestore(): unknown }[] = [];

beforeAll(() => {
  // Pass-through wrappers that remember the largest size asked for while a decoder runs.
  for (const name of ['allocUnsafe', 'allocUnsafeSlow', 'alloc'] as const) {
    const original = Buffer[name] as (size: number, ...rest: never[]) => Buffer;
    const spy = vi.spyOn(Buffer, name).mockImplementation(((size: number, ...rest: never[]) => {
      if (measuring && size > largestAlloc) largestAlloc = size;
      return original.call(Buffer, size, ...rest);
    }) as never);
    spies.push(spy);
  }
});

afterAll(() => {
  for (const spy of spies) spy.mockRestore();
});

/** Drops the calls the spies recorded (they keep every returned Buffer alive otherwise). */
function clearSpies(): void {
  for (const spy of spies) spy.mockClear();
}

// ---------------------------------------------------------------- feeding

/** Calls fn; anything thrown that is not a ProtocolError fails the test with the seed and the input. */
function guard(ctx: string, input: Buffer, fn: () => void): boolean {
  const err = thrownBy(fn);
  if (err === undefined) return true;
  if (err instanceof ProtocolError) return false;
  const hex = input.subarray(0, 256).toString('hex');
  throw new Error(`${ctx}: threw ${String(err)} (not a ProtocolError); ${RERUN}; input ${input.length} bytes: ${hex}`, { cause: err });
}

interface Stats {
  frames: number;
  messages: number;
  rejected: number;
}

/** Decodes one frame as deep as the protocol goes: header, control payload, batches, payload headers. */
function consume(ctx: string, input: Buffer, f: RawFrame, stats: Stats): void {
  stats.frames++;
  guard(ctx, input, () => {
    const m = decodeMessage(f.type, f.header, f.body);
    stats.messages++;
    // A decoded message must encode again (or be refused as ProtocolError, e.g. an over-long string).
    // Not the decoder's allocation, so not measured.
    measuring = false;
    guard(`${ctx} re-encode`, input, () => void encodeFrame(m));
    measuring = true;
    if (m.type === MessageType.RpcRequest || m.type === MessageType.RpcResponse) {
      const method = methodById(m.method);
      if (method !== undefined) {
        decodeValue(m.type === MessageType.RpcRequest ? method.request : method.response, m.body, method.name);
      }
    } else if (m.type === MessageType.PushData) {
      checkSingleBatch(m.body);
      forEachBatch(m.body, (_h, payload) => void openPayload(payload));
    } else if (m.type === MessageType.PushMergedData) {
      for (let i = 0; i < m.offsets.length; i++) {
        const part = m.body.subarray(m.offsets[i], m.offsets[i + 1] ?? m.body.length);
        guard(ctx, input, () => forEachBatch(part, (_h, payload) => void openPayload(payload)));
      }
    } else if (m.type === MessageType.ChunkFetchSuccess) {
      forEachBatch(m.body, (_h, payload) => void openPayload(payload));
    }
  });
}

/** Feeds `input` in random chunks; a decoder that throws is replaced, as a connection would be. */
function feed(ctx: string, input: Buffer, rng: Rng, stats: Stats): void {
  let decoder = new FrameDecoder(LIMITS);
  let at = 0;
  while (at < input.length) {
    const n = 1 + rng.int(Math.min(input.length - at, rng.pick([1, 3, 13, 64, 700, 5000])));
    const chunk = input.subarray(at, at + n);
    at += n;
    const frames: RawFrame[] = [];
    measuring = true;
    const ok = guard(ctx, input, () => decoder.push(chunk, (f) => frames.push(f)));
    measuring = false;
    if (!ok) {
      stats.rejected++;
      decoder = new FrameDecoder(LIMITS);
    }
    measuring = true;
    for (const f of frames) consume(ctx, input, f, stats);
    measuring = false;
  }
}

/** Runs `count` cases of one generator; returns the stats so a test can check the fuzzing reached deep code. */
function run(category: string, seedOffset: number, count: number, make: (rng: Rng) => Buffer): Stats {
  const rng = new Rng(BASE_SEED + seedOffset);
  const stats: Stats = { frames: 0, messages: 0, rejected: 0 };
  largestAlloc = 0;
  withoutStacks(() => {
    for (let i = 0; i < count; i++) {
      const input = make(rng);
      feed(`${category} #${i} (seed ${rng.seed})`, input, rng, stats);
      if ((i & 255) === 255) clearSpies();
    }
  });
  clearSpies();
  if (largestAlloc > LIMITS.maxFrameSize) {
    throw new Error(`${category}: decoder allocated ${largestAlloc} bytes, limit ${LIMITS.maxFrameSize}; ${RERUN}`);
  }
  return stats;
}

// ---------------------------------------------------------------- generators

const VALID = [...FRAME_SAMPLES, ...EDGE_FRAME_SAMPLES].map(frameBytes);
const VALID_BY_TYPE = new Map<number, Buffer[]>();
for (const f of VALID) VALID_BY_TYPE.set(f[1]!, [...(VALID_BY_TYPE.get(f[1]!) ?? []), f]);
const LENGTHS = [0, 1, 2, 7, 12, 100, 1023, 1024, 1025, 4083, 4084, 4085, 4095, 4096, 4097, 65_536, 2 ** 31, 2 ** 32 - 1];

function prelude(type: number, headerLength: number, bodyLength: number): Buffer {
  const p = Buffer.alloc(PRELUDE_SIZE);
  p[0] = PROTOCOL_VERSION;
  p[1] = type;
  p.writeUInt32BE(headerLength, 4);
  p.writeUInt32BE(bodyLength, 8);
  return p;
}

function mutate(rng: Rng, frame: Buffer): Buffer {
  const out = Buffer.from(frame); // copy: mutated
  const flips = 1 + rng.int(4);
  for (let k = 0; k < flips; k++) {
    // Half the flips land in the prelude or near it, where the decoder's decisions are made.
    const i = rng.chance(0.5) ? rng.int(Math.min(out.length, PRELUDE_SIZE + 24)) : rng.int(out.length);
    if (rng.chance(0.5)) out[i]! ^= 1 << rng.int(8);
    else out[i] = rng.int(256);
  }
  return out;
}

function randomLength(rng: Rng): number {
  return rng.chance(0.6) ? rng.pick(LENGTHS) + rng.int(3) - 1 : rng.u32();
}

const clampU32 = (n: number): number => Math.max(0, Math.min(0xffff_ffff, n));

// ---------------------------------------------------------------- tests

describe('fuzz: only ProtocolError, never an allocation over the limit', () => {
  it('random bytes (15,000)', () => {
    const s = run('random bytes', 1, 15_000, (rng) => rng.bytes(rng.chance(0.9) ? rng.int(64) : rng.int(600)));
    expect(s.rejected).toBeGreaterThan(10_000);
  });

  it('a valid prelude followed by random header and body bytes (20,000)', () => {
    const s = run('random payload', 2, 20_000, (rng) => {
      const type = rng.int(17);
      // Half the time the header has the length a real header of this type has, so decoding gets past the lengths.
      const real = VALID_BY_TYPE.get(type) ?? [];
      const headerLength = real.length > 0 && rng.chance(0.5) ? rng.pick(real).readUInt32BE(4) : rng.chance(0.8) ? rng.int(48) : rng.int(1100);
      const bodyLength = rng.chance(0.5) ? 0 : rng.int(200);
      const payload = rng.bytes(headerLength + bodyLength);
      // Small headers: often biased to mostly zero bytes, so length fields are plausible.
      if (rng.chance(0.5)) for (let i = 0; i < payload.length; i++) if (rng.chance(0.7)) payload[i] = 0;
      return Buffer.concat([prelude(type, headerLength, bodyLength), payload]);
    });
    expect(s.messages).toBeGreaterThan(100);
  });

  it('valid frames with random byte flips (30,000)', () => {
    const s = run('flipped frame', 3, 30_000, (rng) => mutate(rng, rng.pick(VALID)));
    expect(s.messages).toBeGreaterThan(1_000);
    expect(s.rejected).toBeGreaterThan(1_000);
  });

  it('truncated frames, alone or followed by a whole frame (10,000)', () => {
    const s = run('truncated frame', 4, 10_000, (rng) => {
      const f = rng.pick(VALID);
      const cut = f.subarray(0, rng.int(f.length));
      return rng.chance(0.5) ? cut : Buffer.concat([cut, rng.pick(VALID)]);
    });
    expect(s.frames).toBeGreaterThan(0);
  });

  it('valid frames with random lengths in the prelude (10,000)', () => {
    run('random lengths', 5, 10_000, (rng) => {
      const f = Buffer.from(rng.pick(VALID)); // copy: mutated
      const which = rng.int(3);
      if (which !== 1) f.writeUInt32BE(clampU32(randomLength(rng)), 4);
      if (which !== 0) f.writeUInt32BE(clampU32(randomLength(rng)), 8);
      return rng.chance(0.7) ? f : Buffer.concat([f, rng.bytes(rng.int(5000))]);
    });
  });

  it('streams of valid frames with one corruption somewhere (5,000)', () => {
    const s = run('corrupted stream', 6, 5_000, (rng) => {
      const parts = Array.from({ length: 2 + rng.int(4) }, () => rng.pick(VALID));
      const k = rng.int(parts.length);
      parts[k] = mutate(rng, parts[k]!);
      return Buffer.concat(parts);
    });
    expect(s.messages).toBeGreaterThan(5_000);
  });

  it('random and mutated payloads for every control request and response decoder (22,400)', () => {
    const rng = new Rng(BASE_SEED + 7);
    let decoded = 0;
    let cases = 0;
    const codecs: [string, Codec<unknown>, unknown[]][] = CONTROL_SAMPLES.flatMap((s) => [
      [`${s.method.name} request`, s.method.request, s.requests] as [string, Codec<unknown>, unknown[]],
      [`${s.method.name} response`, s.method.response, s.responses] as [string, Codec<unknown>, unknown[]],
    ]);
    expect(codecs).toHaveLength(METHODS.length * 2);
    withoutStacks(() => {
      for (const [name, codec, samples] of codecs) {
        const valid = samples.map((v) => encodeValue(codec, v)).filter((b) => b.length > 0);
        if (valid.length === 0) valid.push(Buffer.alloc(1)); // empty payloads: mutate a stray byte instead
        for (let i = 0; i < 800; i++) {
          const input = i < 400 ? rng.bytes(rng.int(i < 200 ? 16 : 96)) : mutate(rng, rng.pick(valid));
          if (guard(`${name} #${i} (seed ${rng.seed})`, input, () => void decodeValue(codec, input, name))) decoded++;
          cases++;
        }
      }
    });
    expect(cases).toBe(METHODS.length * 2 * 800);
    expect(decoded).toBeGreaterThan(500);
  });
});

describe('decoder limits and failure', () => {
  const pushDataPrelude = (bodyLength: number): Buffer => prelude(MessageType.PushData, 20, bodyLength);

  it('watches allocations: a frame gathered across chunks is seen by the spy', () => {
    const f = frameBytes(FRAME_SAMPLES.find((m) => m.type === MessageType.ChunkFetchSuccess)!);
    largestAlloc = 0;
    measuring = true;
    const d = new FrameDecoder(LIMITS);
    let n = 0;
    d.push(f.subarray(0, 100), () => n++);
    d.push(f.subarray(100), () => n++);
    measuring = false;
    clearSpies();
    expect(n).toBe(1);
    expect(largestAlloc).toBe(f.length - PRELUDE_SIZE);
  });

  it.each([
    ['small limits', LIMITS],
    ['default limits', DEFAULT_DECODER_LIMITS],
  ] as const)('%s: a prelude claiming a 2 GiB body is rejected right after its 12 bytes, allocating nothing', (_name, limits) => {
    const p = pushDataPrelude(2 ** 31);
    const d = new FrameDecoder(limits);
    expect(p.readUInt32BE(8)).toBe(2 ** 31);
    largestAlloc = 0;
    measuring = true;
    for (let i = 0; i < PRELUDE_SIZE - 1; i++) d.push(p.subarray(i, i + 1), () => expect.unreachable());
    const err = thrownBy(() => d.push(p.subarray(PRELUDE_SIZE - 1), () => expect.unreachable()));
    measuring = false;
    clearSpies();
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(largestAlloc).toBe(0);
    expect(d.buffered).toBe(0);

    // The same prelude in one chunk (fast path), with a few body bytes behind it.
    const chunk = Buffer.concat([p, Buffer.alloc(64)]);
    const d2 = new FrameDecoder(limits);
    measuring = true;
    const err2 = thrownBy(() => d2.push(chunk, () => expect.unreachable()));
    measuring = false;
    clearSpies();
    expect((err2 as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(largestAlloc).toBe(0);
  });

  it('accepts a frame of exactly maxFrameSize and rejects one byte more; same for maxHeaderSize', () => {
    const atLimit = (headerLength: number, bodyLength: number): unknown =>
      thrownBy(() => new FrameDecoder(LIMITS).push(prelude(MessageType.PushData, headerLength, bodyLength), () => expect.unreachable()));
    expect(atLimit(20, LIMITS.maxFrameSize - 20)).toBeUndefined();
    expect((atLimit(20, LIMITS.maxFrameSize - 19) as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect(atLimit(LIMITS.maxHeaderSize, 0)).toBeUndefined();
    expect((atLimit(LIMITS.maxHeaderSize + 1, 0) as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
    expect((atLimit(0xffff_ffff, 0xffff_ffff) as ProtocolError).code).toBe(ErrorCodes.FRAME_TOO_LARGE);
  });

  it.each([0, 1, 3, 0x7f, 0xff])('version %i is rejected with ProtocolError', (version) => {
    const f = Buffer.from(VALID[0]!); // copy: mutated
    f[0] = version;
    const err = thrownBy(() => new FrameDecoder(LIMITS).push(f, () => expect.unreachable()));
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(ErrorCodes.PROTOCOL);
  });

  it('reserved prelude bits are rejected', () => {
    for (const at of [2, 3]) {
      const f = Buffer.from(VALID[0]!); // copy: mutated
      f[at] = 1;
      expect(thrownBy(() => new FrameDecoder(LIMITS).push(f, () => expect.unreachable()))).toBeInstanceOf(ProtocolError);
    }
  });

  it('after a failure the decoder keeps throwing and emits nothing, even for valid input', () => {
    const d = new FrameDecoder(LIMITS);
    const good = VALID[0]!;
    let emitted = 0;
    d.push(good, () => emitted++);
    expect(emitted).toBe(1);
    const bad = Buffer.from(good); // copy: mutated
    bad[0] = 9;
    // The good frame completed in front of the bad prelude is still delivered; nothing after it is.
    d.push(good.subarray(0, 5), () => emitted++);
    expect(thrownBy(() => d.push(Buffer.concat([good.subarray(5), bad]), () => emitted++))).toBeInstanceOf(ProtocolError);
    expect(emitted).toBe(2);
    for (const chunk of [good, Buffer.alloc(0), good.subarray(0, 3)]) {
      const err = thrownBy(() => d.push(chunk, () => emitted++));
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as ProtocolError).code).toBe(ErrorCodes.PROTOCOL);
    }
    expect(emitted).toBe(2);
    expect(d.buffered).toBe(0);
  });

  it('a frame of an unknown type passes the decoder and is refused by decodeMessage', () => {
    const frames: RawFrame[] = [];
    new FrameDecoder(LIMITS).push(Buffer.concat([prelude(200, 1, 0), Buffer.from([0])]), (f) => frames.push(f));
    expect(frames).toHaveLength(1);
    const err = thrownBy(() => decodeMessage(frames[0]!.type, frames[0]!.header, frames[0]!.body));
    expect((err as ProtocolError).code).toBe(ErrorCodes.UNKNOWN_MESSAGE);
  });
});
