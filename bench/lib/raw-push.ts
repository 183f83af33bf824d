import { connect as netConnect } from 'node:net';

export interface RawPushFraming {
  /** Written once before the first message (e.g. which file a raw server should append to). */
  head?: Buffer;
  /** Written after the last message and acknowledged like one (e.g. a commit). */
  trailer?: Buffer;
}

/**
 * The raw baseline's push: `count` messages of `body`, each behind a u32
 * length prefix, with at most `inFlight` unacknowledged (the peer answers
 * each message with 4 bytes); resolves once every ack is in.
 */
export function rawPush(port: number, body: Buffer, count: number, inFlight: number, framing: RawPushFraming = {}): Promise<void> {
  const acksWanted = count + (framing.trailer === undefined ? 0 : 1);
  return new Promise((resolve, reject) => {
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(body.length, 0);
    const socket = netConnect({ host: '127.0.0.1', port, noDelay: true });
    let sent = 0;
    let ackBytes = 0;
    const pump = () => {
      const acked = ackBytes >>> 2;
      while (sent < count && sent - acked < inFlight) {
        socket.cork();
        socket.write(prefix);
        socket.write(body);
        socket.uncork();
        if (++sent === count && framing.trailer !== undefined) socket.write(framing.trailer);
      }
    };
    socket.on('connect', () => {
      if (framing.head !== undefined) socket.write(framing.head);
      pump();
    });
    socket.on('data', (chunk: Buffer) => {
      ackBytes += chunk.length;
      if (ackBytes >>> 2 === acksWanted) {
        socket.destroy();
        resolve();
      } else {
        pump();
      }
    });
    socket.on('error', reject);
  });
}
