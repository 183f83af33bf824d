/**
 * Bench peer: the receiving side of transport.push.
 *
 *   node dist-bench/bench/peers/push-server.js braid|raw
 *   node dist-bench/bench/peers/push-server.js braid-tls <ca.pem> <node.pem> <node-key.pem>
 *
 * braid: a TransportServer that answers every PushData with a PushResponse
 *        (status SUCCESS) once the frame has arrived. The body is dropped,
 *        never copied here; whatever copy happens is the transport's.
 * braid-tls: the same server listening with TLS (the given CA, certificate and key).
 * raw:   the baseline. A plain node:net server reading length-prefixed
 *        messages (u32 big-endian length, then the payload): it only counts
 *        bytes, and writes a 4-byte ack per completed message. No buffering,
 *        no copy: the cheapest server that still acks each message.
 *
 * Prints READY <port>; answers STAT on stdin with `<payload bytes received>
 * <user CPU µs> <system CPU µs>`, so the client can check delivery and see
 * how busy the server was.
 */
import { createServer, type Socket } from 'node:net';
import { BraidError, ErrorCodes, MessageType, PushStatus, Role } from '../../src/protocol/index.js';
import { TlsMaterial } from '../../src/security/tls.js';
import { TransportServer, clusterAuth } from '../../src/transport/index.js';
import { announceReady, exitOnSignal, serveCommands } from '../lib/peer.js';
import { benchSecret } from '../lib/security.js';

let payloadBytes = 0;

async function startBraid(tls?: TlsMaterial): Promise<{ port: number; close(): Promise<void> }> {
  // One shared one-byte status: the reply must not allocate more than the transport does.
  const ok = Buffer.from([PushStatus.SUCCESS]);
  const server = await TransportServer.listen({
    role: Role.Worker,
    auth: clusterAuth(benchSecret()),
    tls,
    onRequest(message, conn) {
      if (message.type === MessageType.PushData) {
        payloadBytes += message.body.length;
        conn.reply({ type: MessageType.PushResponse, requestId: message.requestId, statuses: ok });
        return;
      }
      if ('requestId' in message) conn.replyFailure(message.requestId, new BraidError(ErrorCodes.INVALID_REQUEST, `bench peer takes PushData only, got type ${message.type}`));
    },
  });
  return { port: server.address.port, close: () => server.close() };
}

async function startRaw(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const ack = Buffer.alloc(4);
    // Parse state: bytes of the length prefix seen so far, and payload bytes still due.
    let prefix = 0;
    let prefixFill = 0;
    let remaining = 0;
    socket.on('data', (chunk: Buffer) => {
      let at = 0;
      while (at < chunk.length) {
        if (remaining === 0) {
          prefix = (prefix << 8) | chunk[at++]!;
          if (++prefixFill < 4) continue;
          remaining = prefix >>> 0;
          prefix = 0;
          prefixFill = 0;
          if (remaining === 0) socket.write(ack);
          continue;
        }
        const take = Math.min(remaining, chunk.length - at);
        at += take;
        remaining -= take;
        payloadBytes += take;
        if (remaining === 0) socket.write(ack);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new BraidError(ErrorCodes.INTERNAL, 'raw server has no TCP address');
  return {
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const [mode, caFile, certFile, keyFile] = process.argv.slice(2);
if (mode !== 'braid' && mode !== 'raw' && !(mode === 'braid-tls' && keyFile !== undefined)) {
  process.stderr.write('usage: push-server.js braid|raw|braid-tls <ca> <cert> <key>\n');
  process.exit(2);
}
const server =
  mode === 'raw' ? await startRaw() : await startBraid(mode === 'braid-tls' ? TlsMaterial.fromFiles({ caFile: caFile!, certFile: certFile!, keyFile: keyFile! }) : undefined);
exitOnSignal(() => server.close());
serveCommands({
  STAT: () => {
    const cpu = process.cpuUsage();
    return `${payloadBytes} ${cpu.user} ${cpu.system}`;
  },
});
announceReady(server.port);
