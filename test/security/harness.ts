/**
 * Real servers for the security suite: a standalone cluster (a master and
 * two workers, in this process, on loopback) with the test secret and TLS,
 * and well-behaved applications that run a small shuffle and check it came
 * back exact, before, during and after each attack. Everything is closed
 * after each test.
 */
import { afterEach, expect } from 'vitest';
import { LifecycleManager } from '../../src/client/lifecycle/index.js';
import { ShuffleClient } from '../../src/client/shuffle-client.js';
import type { Address, Role } from '../../src/protocol/index.js';
import { startStandalone, type StandaloneHandle, type StandaloneOptions } from '../../src/server/standalone.js';
import { TlsMaterial } from '../../src/security/tls.js';
import { connect, type Connection } from '../../src/transport/index.js';
import { appKey, clusterSecurity, testAppTls, testSecret, testTls } from './fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

export function onCleanup(f: () => Promise<void> | void): void {
  cleanups.push(f);
}

/** A cluster with the test secret; TLS unless `plaintext` (raw-frame attacks need to see the bytes). */
export async function secureCluster(options: StandaloneOptions & { plaintext?: boolean } = {}): Promise<StandaloneHandle> {
  const { plaintext, ...rest } = options;
  const security = plaintext ? { authSecret: testSecret() } : clusterSecurity();
  const c = await startStandalone({ workers: 2, ...security, ...rest });
  onCleanup(() => c.close());
  return c;
}

/** A cluster an application can talk to: one started here, or just its master's address and whether it speaks TLS. */
export type ClusterRef = StandaloneHandle | { masterAddress: Address; tls: boolean };

function usesTls(c: ClusterRef): boolean {
  return 'tls' in c ? c.tls : c.workers[0]!.options.security.tls !== undefined;
}

/** A connection as `role`, closed after the test. Cluster roles prove the secret (and present the node certificate over TLS); application roles their key. */
export async function dial(
  c: StandaloneHandle,
  address: Address,
  role: Role,
  o: { appId?: string; key?: string; tls?: TlsMaterial } = {},
): Promise<Connection> {
  const conn = await connect(address, { role, appId: o.appId ?? '', key: o.key, tls: o.tls ?? (usesTls(c) ? testTls() : undefined) });
  onCleanup(() => conn.close());
  return conn;
}

/** An application doing things by the rules: its own LifecycleManager and client, with its own key. */
export class App {
  private nextShuffle = 100;

  private constructor(
    readonly appId: string,
    readonly lm: LifecycleManager,
    readonly client: ShuffleClient,
  ) {}

  static async start(c: ClusterRef, appId: string): Promise<App> {
    const tls = usesTls(c);
    const lm = await LifecycleManager.start({ appId, master: c.masterAddress, authToken: appKey(appId), tls: tls ? testTls() : undefined, replicate: true });
    onCleanup(() => lm.close());
    const client = await ShuffleClient.connect({ appId, lifecycleManager: lm.address, authToken: appKey(appId), tls: tls ? testAppTls() : undefined, pushTimeoutMs: 10_000 });
    onCleanup(() => client.close());
    return new App(appId, lm, client);
  }

  /** Pushes `text` into partition 0 of a new one-map shuffle and commits it; returns where it is and how to read it. */
  async shuffle(text: string, shuffleId = this.nextShuffle++): Promise<{ shuffleId: number; worker: Address; read(): Promise<string> }> {
    await this.client.pushData(shuffleId, 0, 0, 0, Buffer.from(text), undefined, undefined, 1, 1);
    await this.client.mapperEnd(shuffleId, 0, 0, 1);
    const group = await this.lm.getReducerFileGroup(shuffleId, 0, 1);
    const read = async () => {
      const parts: Buffer[] = [];
      for await (const b of this.client.readPartition(shuffleId, 0)) parts.push(b);
      return Buffer.concat(parts).toString();
    };
    return { shuffleId, worker: group.partitions[0]!.files[0]!.address, read };
  }

  /** A whole shuffle by the rules, read back exactly: the check that the attacks did not hurt anyone else. */
  async works(): Promise<void> {
    const text = `${this.appId} ${Math.random()}`;
    const s = await this.shuffle(text);
    expect(await s.read()).toBe(text);
    await this.lm.unregisterShuffle(s.shuffleId);
  }
}
