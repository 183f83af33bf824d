/**
 * A real etcd, for the high-availability tests and the failover benchmark:
 * Debian's etcd-server (`/usr/bin/etcd`), one member on loopback ports of
 * its own, its data in a directory the caller owns (and removes). No test
 * framework here: the tests' wrapper (etcd.ts) registers the cleanup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export const ETCD_BINARY = process.env.BRAID_TEST_ETCD ?? '/usr/bin/etcd';

/** A port the kernel had free a moment ago (etcd cannot be told to pick one and report it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class EtcdServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log = '';

  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    /** Hears of every etcd process started (to kill it at exit whatever happens). */
    private readonly onSpawn: (child: ChildProcess) => Promise<void>,
  ) {}

  /** `127.0.0.1:<port>`, as `--etcd` takes it. */
  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts etcd with its data under `dataDir`; `onSpawn` resolves when the process exits. */
  static async start(dataDir: string, onSpawn: (child: ChildProcess) => Promise<void>): Promise<EtcdServer> {
    if (!existsSync(ETCD_BINARY)) throw new Error(`${ETCD_BINARY} is missing: install Debian's etcd-server (.ci/run does)`);
    const etcd = new EtcdServer(dataDir, await freePort(), await freePort(), onSpawn);
    await etcd.launch();
    return etcd;
  }

  /** Starts (again) on the same ports and data: the cluster's state survives a stop. */
  async launch(): Promise<void> {
    if (this.running) return;
    const name = `braid-test-${process.pid}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const client = `http://${this.endpoint}`;
    const child = spawn(
      ETCD_BINARY,
      [
        `--name=${name}`,
        `--data-dir=${this.dataDir}/data`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${name}=${peer}`,
        '--initial-cluster-state=new',
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr!.on('data', (d: Buffer) => (this.log = (this.log + d.toString()).slice(-8192)));
    this.child = child;
    this.exited = this.onSpawn(child);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (!this.running) throw new Error(`etcd exited before it was healthy:\n${this.log}`);
      try {
        const res = await fetch(`${client}/health`);
        if (res.ok && ((await res.json()) as { health?: string }).health === 'true') return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`etcd not healthy within 20 s:\n${this.log}`);
      await sleep(50);
    }
  }

  /** Stops etcd (SIGTERM: clean; SIGKILL: as a crash) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.running) this.child!.kill(signal);
    await this.exited;
  }
}
