/**
 * transport.push.tls: the push loop of transport.push over TLS, as a ratio
 * of the same loop in plaintext measured in the same run (target ≥ 0.7 at
 * 64 KiB bodies, 32 in flight). Both servers authenticate; the TLS one also
 * has a certificate of a development CA made for the run by
 * scripts/dev-certs.sh (openssl), removed afterwards. Runs alternate
 * plaintext/TLS, order flipped every round; medians are reported.
 */
import { TlsMaterial } from '../src/security/tls.js';
import { formatBytes } from './lib/format.js';
import { peerScript, spawnPeer } from './lib/peer.js';
import { benchCerts } from './lib/security.js';
import { median } from './lib/stats.js';
import { result, type BenchModule, type BenchOptions, type BenchResult } from './lib/types.js';
import { braidPusher, describe, makeBody, measure, type Sample } from './transport-push.bench.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const BODY = 64 * KiB;
const IN_FLIGHT = 32;

export const transportPushTls: BenchModule = {
  name: 'transport.push.tls',
  async run(opts: BenchOptions): Promise<BenchResult[]> {
    const runs = opts.quick ? 3 : 7;
    const totalBytes = opts.quick ? 160 * MiB : 1024 * MiB;
    const certs = benchCerts();
    try {
      const { files } = certs;
      const [plainPeer, tlsPeer] = await Promise.all([
        spawnPeer(peerScript('push-server'), ['braid'], { profile: opts.profile, profileName: 'push-server-braid' }),
        spawnPeer(peerScript('push-server'), ['braid-tls', files.caFile, files.certFile, files.keyFile], { profile: opts.profile, profileName: 'push-server-braid-tls' }),
      ]);
      try {
        // The client holds only the CA, as an application's task does.
        const variants = [
          { name: 'plain', peer: plainPeer, push: braidPusher() },
          { name: 'tls', peer: tlsPeer, push: braidPusher(TlsMaterial.fromFiles({ caFile: files.caFile })) },
        ];
        const body = makeBody(BODY);
        const samples: Record<string, Sample[]> = { plain: [], tls: [] };
        for (const v of variants) await measure(v.peer, v.push, body, 32 * MiB, IN_FLIGHT);
        for (let i = 0; i < runs; i++) {
          const order = i % 2 === 0 ? variants : [...variants].reverse();
          for (const v of order) samples[v.name]!.push(await measure(v.peer, v.push, body, totalBytes, IN_FLIGHT));
        }
        const plain = median(samples.plain!.map((s) => s.gbps));
        const tls = median(samples.tls!.map((s) => s.gbps));
        process.stderr.write(
          `transport.push.tls: body ${formatBytes(BODY)}, ${IN_FLIGHT} in flight, ${formatBytes(totalBytes)} x ${runs} runs\n` +
            `  plain ${describe(samples.plain!)}\n` +
            `  tls   ${describe(samples.tls!)}\n`,
        );
        return [result('transport.push.tls', tls, 'GB/s', plain)];
      } finally {
        await Promise.all([plainPeer.stop(), tlsPeer.stop()]);
      }
    } finally {
      certs.remove();
    }
  },
};
