/**
 * Round trips for every frame type and every control method, driven by the
 * tables in samples.ts. Lower-level codecs (batch header, payload header,
 * Reader, Writer) are in primitives.test.ts.
 */
import { describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  FrameDecoder,
  MESSAGES,
  METHODS,
  MessageType,
  PRELUDE_SIZE,
  ProtocolError,
  decodeMessage,
  decodeValue,
  encodeFrame,
  encodeValue,
  messageName,
  methodById,
  validateMergedOffsets,
  type Message,
  type RawFrame,
} from '../../src/protocol/index.js';
import { CONTROL_SAMPLES, EDGE_FRAME_SAMPLES, FRAME_SAMPLES, frameBytes, isolated, thrownBy } from './samples.js';

function decodeAll(chunk: Buffer): RawFrame[] {
  const frames: RawFrame[] = [];
  new FrameDecoder().push(chunk, (f) => frames.push(f));
  return frames;
}

function expectProtocolError(fn: () => unknown, code: string = ErrorCodes.PROTOCOL): void {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(ProtocolError);
  expect((err as ProtocolError).code).toBe(code);
}

const hasBody = (m: Message): m is Extract<Message, { body: Buffer }> => MESSAGES[m.type].hasBody;

describe('frame round trip', () => {
  it('has exactly one sample per frame type in MESSAGES', () => {
    const ids = Object.keys(MESSAGES)
      .map(Number)
      .sort((a, b) => a - b);
    expect(ids).toEqual(Object.values(MessageType).sort((a, b) => a - b));
    expect(ids).toHaveLength(16);
    expect(FRAME_SAMPLES.map((m) => m.type)).toEqual(ids);
    for (const id of ids) expect(MESSAGES[id as MessageType].type).toBe(id);
  });

  const table = [
    ...FRAME_SAMPLES.map((m) => [messageName(m.type), m] as const),
    ...EDGE_FRAME_SAMPLES.map((m, i) => [`edge ${i}: ${messageName(m.type)}`, m] as const),
  ];

  it.each(table)('%s: encode → decoder → decodeMessage gives the original', (_name, message) => {
    const { head, body } = encodeFrame(message);
    const headerLength = MESSAGES[message.type].header.size(message as never);
    expect(head.length).toBe(PRELUDE_SIZE + headerLength);
    if (hasBody(message)) {
      // The body travels as its own Buffer: the very object given, not a copy.
      expect(body).toBe(message.body);
      expect(head.readUInt32BE(8)).toBe(message.body.length);
    } else {
      expect(body).toBeUndefined();
      expect(head.readUInt32BE(8)).toBe(0);
    }

    const chunk = isolated(frameBytes(message));
    const frames = decodeAll(chunk);
    expect(frames).toHaveLength(1);
    const raw = frames[0]!;
    expect(raw.type).toBe(message.type);
    const decoded = decodeMessage(raw.type, raw.header, raw.body);
    expect(decoded).toEqual(message);

    // One chunk: header and body are views of the chunk, at their wire offsets.
    expect(raw.header.buffer).toBe(chunk.buffer);
    expect(raw.header.byteOffset).toBe(chunk.byteOffset + PRELUDE_SIZE);
    expect(raw.body.buffer).toBe(chunk.buffer);
    expect(raw.body.byteOffset).toBe(chunk.byteOffset + head.length);
    if (hasBody(decoded)) {
      expect(decoded.body).toBe(raw.body);
      if (decoded.body.length > 0) {
        chunk[chunk.length - 1] ^= 0xff;
        expect(decoded.body[decoded.body.length - 1]).toBe(chunk[chunk.length - 1]);
      }
    }
  });

  it('a stream of every sample in one chunk decodes in order, every body a view of that chunk', () => {
    const all = [...FRAME_SAMPLES, ...EDGE_FRAME_SAMPLES];
    const chunk = isolated(Buffer.concat(all.map(frameBytes)));
    const frames = decodeAll(chunk);
    expect(frames.map((f) => decodeMessage(f.type, f.header, f.body))).toEqual(all);
    for (const f of frames) {
      expect(f.header.buffer).toBe(chunk.buffer);
      expect(f.body.buffer).toBe(chunk.buffer);
    }
  });

  it('the encoding is deterministic: re-encoding a decoded message gives the same bytes', () => {
    for (const m of [...FRAME_SAMPLES, ...EDGE_FRAME_SAMPLES]) {
      const bytes = frameBytes(m);
      const [f] = decodeAll(bytes);
      expect(frameBytes(decodeMessage(f!.type, f!.header, f!.body)).equals(bytes)).toBe(true);
    }
  });

  it('rejects a body on a frame type that has none', () => {
    const heartbeat = encodeFrame({ type: MessageType.Heartbeat, pong: false }).head.subarray(PRELUDE_SIZE);
    expectProtocolError(() => decodeMessage(MessageType.Heartbeat, heartbeat, Buffer.from([0])));
  });

  it('rejects trailing and missing header bytes', () => {
    for (const m of FRAME_SAMPLES) {
      const header = encodeFrame(m).head.subarray(PRELUDE_SIZE);
      const body = hasBody(m) ? m.body : Buffer.alloc(0);
      expectProtocolError(() => decodeMessage(m.type, Buffer.concat([header, Buffer.from([0])]), body));
      for (let n = 0; n < header.length; n++) expectProtocolError(() => decodeMessage(m.type, header.subarray(0, n), body));
    }
  });

  it('rejects a mode byte outside Mode', () => {
    const m = FRAME_SAMPLES.find((s) => s.type === MessageType.PushData)!;
    const [f] = decodeAll(frameBytes(m));
    const header = Buffer.from(f!.header); // copy: mutated; mode is the last header byte
    for (const mode of [2, 3, 0x80, 0xff]) {
      header[header.length - 1] = mode;
      expectProtocolError(() => decodeMessage(f!.type, header, f!.body));
    }
  });

  it('rejects unknown frame types with BRAID_ERR_UNKNOWN_MESSAGE', () => {
    for (const type of [0, 17, 99, 255]) {
      expectProtocolError(() => decodeMessage(type, Buffer.alloc(0), Buffer.alloc(0)), ErrorCodes.UNKNOWN_MESSAGE);
    }
  });

  it('rejects a PushMergedData whose offsets do not fit its body', () => {
    const m = FRAME_SAMPLES.find((s) => s.type === MessageType.PushMergedData)!;
    if (m.type !== MessageType.PushMergedData) throw new Error('sample missing');
    const bad = { ...m, offsets: [0, m.offsets[1]!, m.body.length] };
    const [f] = decodeAll(frameBytes(bad));
    expectProtocolError(() => decodeMessage(f!.type, f!.header, f!.body));
  });
});

describe('validateMergedOffsets', () => {
  const ok = (): void => validateMergedOffsets([1, 2, 3], [0, 0, 1], [0, 10, 20], 30);

  it('accepts ascending offsets starting at 0 and inside the body', () => {
    expect(ok).not.toThrow();
    expect(() => validateMergedOffsets([5], [0], [0], 1)).not.toThrow();
  });

  it.each([
    ['epochs shorter', [1, 2], [0], [0, 10], 20],
    ['offsets longer', [1], [0], [0, 5], 20],
    ['no batches', [], [], [], 20],
    ['first offset not 0', [1, 2], [0, 0], [4, 10], 20],
    ['equal offsets (empty batch)', [1, 2], [0, 0], [0, 0], 20],
    ['descending offsets', [1, 2, 3], [0, 0, 0], [0, 10, 5], 20],
    ['last offset at body end', [1, 2], [0, 0], [0, 20], 20],
    ['last offset past body end', [1, 2], [0, 0], [0, 25], 20],
    ['one batch, empty body', [1], [0], [0], 0],
  ])('%s → ProtocolError', (_name, partitionIds, epochs, offsets, bodyLength) => {
    expectProtocolError(() => validateMergedOffsets(partitionIds, epochs, offsets, bodyLength));
  });
});

describe('control methods', () => {
  it('METHODS covers ids 1..21 exactly once, and methodById finds each', () => {
    const ids = METHODS.map((m) => m.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    expect(new Set(METHODS.map((m) => m.name)).size).toBe(METHODS.length);
    for (const m of METHODS) expect(methodById(m.id)).toBe(m);
    expect(methodById(0)).toBeUndefined();
    expect(methodById(22)).toBeUndefined();
  });

  it('the sample table has one entry per method, each with requests and responses', () => {
    expect(CONTROL_SAMPLES.map((s) => s.method.id).sort((a, b) => a - b)).toEqual(METHODS.map((m) => m.id).sort((a, b) => a - b));
    for (const s of CONTROL_SAMPLES) {
      expect(methodById(s.method.id)).toBe(s.method);
      expect(s.requests.length).toBeGreaterThan(0);
      expect(s.responses.length).toBeGreaterThan(0);
    }
  });

  const cases = CONTROL_SAMPLES.flatMap((s) => [
    ...s.requests.map((v, i) => [`${s.method.name} request ${i}`, s.method.request, v] as const),
    ...s.responses.map((v, i) => [`${s.method.name} response ${i}`, s.method.response, v] as const),
  ]);

  it.each(cases)('%s round trips', (name, codec, value) => {
    const buf = encodeValue(codec, value);
    expect(buf.length).toBe(codec.size(value));
    expect(decodeValue(codec, buf, name)).toEqual(value);
    expect(encodeValue(codec, decodeValue(codec, buf, name)).equals(buf)).toBe(true);
    // Nothing but the exact encoding decodes: every strict prefix is truncated, an extra byte is trailing.
    for (let n = 0; n < buf.length; n++) expectProtocolError(() => decodeValue(codec, buf.subarray(0, n), name));
    expectProtocolError(() => decodeValue(codec, Buffer.concat([buf, Buffer.from([0])]), name));
  });

  it('an RpcRequest body decodes with the method named in its header', () => {
    for (const m of [...FRAME_SAMPLES, ...EDGE_FRAME_SAMPLES]) {
      if (m.type !== MessageType.RpcRequest && m.type !== MessageType.RpcResponse) continue;
      const method = methodById(m.method);
      expect(method).toBeDefined();
      const codec = m.type === MessageType.RpcRequest ? method!.request : method!.response;
      const [f] = decodeAll(frameBytes(m));
      const decoded = decodeMessage(f!.type, f!.header, f!.body);
      if (decoded.type !== m.type) throw new Error('type changed');
      expect(encodeValue(codec, decodeValue(codec, decoded.body, method!.name)).equals(m.body)).toBe(true);
    }
  });

  it('an optional field with a bad presence flag is rejected', () => {
    // RequestSlots response: slots:u32 count, then slot := primary:address hasReplica:bool ...
    const codec = methodById(3)!.response;
    const value = CONTROL_SAMPLES.find((s) => s.method.id === 3)!.responses[0];
    const buf = Buffer.from(encodeValue(codec, value as never)); // copy: mutated below
    const flagAt = 4 + 2 + Buffer.byteLength('worker-1.rack-a.example.internal') + 2;
    expect(buf[flagAt]).toBe(1);
    buf[flagAt] = 2;
    expectProtocolError(() => decodeValue(codec, buf, 'RequestSlots'));
  });

  it('an array count larger than the input is rejected before anything is built', () => {
    // ApplicationHeartbeat request: appId:string shuffleIds:u32[]
    const codec = methodById(12)!.request;
    const buf = Buffer.from([0, 0, 0xff, 0xff, 0xff, 0xff]);
    expectProtocolError(() => decodeValue(codec, buf, 'ApplicationHeartbeat'));
  });
});
