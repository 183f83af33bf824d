/**
 * A real etcd for one test (etcd-server.ts): its own loopback ports and
 * temporary data directory, stopped and removed after the test (onCleanup),
 * SIGKILLed at exit as a last resort (trackChild), also when the test fails.
 */
import { onCleanup, tempDir, trackChild } from '../e2e/cluster.js';
import { EtcdServer } from './etcd-server.js';

export { EtcdServer };

export async function startEtcd(): Promise<EtcdServer> {
  const dir = await tempDir('braid-ha-etcd-');
  const etcd = await EtcdServer.start(dir, trackChild);
  onCleanup(() => etcd.stop('SIGKILL'));
  return etcd;
}
