/**
 * The receive path does not copy bodies: a frame that arrives whole inside
 * one socket read is handed over as views of that read; a frame spread over
 * several reads is gathered once, into a buffer of exactly its size.
 */
import { describe, expect, test } from 'vitest';
import { MessageType, PROTOCOL_VERSION, Role, encodeFrame, type Message } from '../../src/protocol/index.js';
import { useTransportHarness, waitFor } from './harness.js';

const h = useTransportHarness();

function pushFrame(requestId: number, body: Buffer): Buffer {
  const m: Message = { type: MessageType.PushData, requestId, shuffleKey: 'app-1', partitionId: requestId, epoch: 0, mode: 0, body };
  const { head } = encodeFrame(m);
  return Buffer.concat([head, body]); // copy: the test builds the wire bytes itself
}

describe('zero copy', () => {
  test('PushData bodies are views of the socket read they arrived in', async () => {
    const bodies: Buffer[] = [];
    const server = await h.server({
      role: Role.Worker,
      onRequest(m, c) {
        if (m.type !== MessageType.PushData) return;
        bodies.push(m.body);
        c.reply({ type: MessageType.PushResponse, requestId: m.requestId, statuses: Buffer.from([0]) });
      },
    });
    const raw = await h.raw(server.address);
    expect((await raw.handshake({ version: PROTOCOL_VERSION })).ok).toBe(true);

    // Three small frames in one write arrive in one read on loopback.
    const small = [1, 2, 3].map((i) => Buffer.alloc(100, i));
    raw.write(Buffer.concat(small.map((b, i) => pushFrame(i + 1, b)))); // copy: one write
    await waitFor(() => bodies.length === 3, 'three bodies');
    bodies.forEach((b, i) => expect(b.equals(small[i]!)).toBe(true));
    const read = bodies[0]!.buffer;
    expect(bodies.every((b) => b.buffer === read)).toBe(true);
    expect(read.byteLength).toBeGreaterThan(3 * 100);
    expect(bodies[2]!.byteOffset).toBeGreaterThan(bodies[1]!.byteOffset);
    expect(bodies[1]!.byteOffset).toBeGreaterThan(bodies[0]!.byteOffset);

    // A 1 MiB frame spans many reads: one gathered copy, sized exactly header + body.
    const big = Buffer.alloc(1 << 20, 7);
    const frame = pushFrame(4, big);
    raw.write(frame);
    await waitFor(() => bodies.length === 4, 'the big body');
    const b = bodies[3]!;
    expect(b.equals(big)).toBe(true);
    const headerLength = frame.readUInt32BE(4);
    expect(b.buffer.byteLength).toBe(headerLength + big.length);
    expect(b.byteOffset).toBe(headerLength);
    await waitFor(() => raw.frames.filter((f) => f.type === MessageType.PushResponse).length === 4, 'four answers');
  });
});
