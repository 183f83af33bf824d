/**
 * A Braid cluster on test hosts (see ../harness/hosts.ts): the master on host
 * `master`, worker i on host `w<i>`, and the jobs' driver and tasks (the
 * `braid` CLI) on host `client`. Every role is a real process from the real
 * entry points, bound and advertised as an operator would on separate
 * machines (a mix of specific addresses, 0.0.0.0 with --advertise-host and
 * 0.0.0.0 with --advertise-interface). Defaults are the product's, except
 * where a test passes flags of its own.
 *
 * Security is on, as in production: one cluster secret (a file) and TLS with
 * a development CA (scripts/dev-certs.sh) whose node certificate names every
 * test host's address, made per network. `security` holds the flags every
 * server and every CLI run gets, so a cross-cutting setting is added in one
 * place.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { TestNetwork, type Host, type HostProcess } from '../harness/hosts.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const SERVER = join(ROOT, 'dist', 'server.js');
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
const DEV_CERTS = join(ROOT, 'scripts', 'dev-certs.sh');

/** Flags for the servers and for the CLI (an admin: the same secret and node certificate). */
export interface Security {
  server: string[];
  client: string[];
}

/** A cluster secret and a CA whose node certificate names every host of `net`, under `dir`. */
async function makeSecurity(net: TestNetwork, dir: string): Promise<Security> {
  const secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const tls = join(dir, 'tls');
  await promisify(execFile)('sh', [DEV_CERTS, tls, ...net.all().map((h) => h.ip)]);
  const flags = ['--auth-secret-file', secretFile, '--tls-ca-file', join(tls, 'ca.pem'), '--tls-cert-file', join(tls, 'node.pem'), '--tls-key-file', join(tls, 'node-key.pem')];
  return { server: flags, client: flags };
}

export interface HostClusterOptions {
  workers?: number;
  masterArgs?: string[];
  workerArgs?: string[];
  security?: Security;
}

export interface RoleProcess {
  host: Host;
  proc: HostProcess;
  /** `host:port` as advertised in the ready line. */
  address: string;
}

export interface WorkerProcess extends RoleProcess {
  dataDir: string;
  args: string[];
}

/** How worker i binds: a specific address, or 0.0.0.0 with either advertise option. */
function bindFlags(i: number, host: Host): string[] {
  switch (i % 3) {
    case 0:
      return ['--host', host.ip];
    case 1:
      return ['--host', '0.0.0.0', '--advertise-interface', 'eth0'];
    default:
      return ['--host', '0.0.0.0', '--advertise-host', host.ip];
  }
}

function readyAddress(proc: HostProcess, role: string): Promise<string> {
  return proc.waitFor(new RegExp(`^braid ${role} ready (\\{.*\\})$`, 'm'), 30_000).then((m) => String((JSON.parse(m[1]!) as Record<string, unknown>)[role]));
}

export class HostCluster {
  private constructor(
    readonly net: TestNetwork,
    readonly master: RoleProcess,
    readonly workers: WorkerProcess[],
    readonly client: Host,
    readonly security: Security,
    private readonly dataRoot: string,
  ) {}

  static async start(o: HostClusterOptions = {}): Promise<HostCluster> {
    const n = o.workers ?? 4;
    const names = ['master', ...Array.from({ length: n }, (_, i) => `w${i + 1}`), 'client'];
    const net = await TestNetwork.create(names);
    const dataRoot = await mkdtemp(join(tmpdir(), 'braid-hosts-'));
    try {
      const security = o.security ?? (await makeSecurity(net, dataRoot));
      const mh = net.host('master');
      const mproc = mh.spawn([SERVER, 'master', '--host', '0.0.0.0', '--advertise-interface', 'eth0', '--port', '9097', '--log-format', 'json', ...security.server, ...(o.masterArgs ?? [])]);
      const master: RoleProcess = { host: mh, proc: mproc, address: await readyAddress(mproc, 'master') };
      const workers = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const host = net.host(`w${i + 1}`);
          const dataDir = join(dataRoot, host.name);
          const args = [SERVER, 'worker', ...bindFlags(i, host), '--port', '9099', '--master', master.address, '--data-dirs', dataDir, '--disk-reserve', '0', '--log-format', 'json', ...security.server, ...(o.workerArgs ?? [])];
          const proc = host.spawn(args);
          return { host, proc, address: await readyAddress(proc, 'worker'), dataDir, args };
        }),
      );
      const cluster = new HostCluster(net, master, workers, net.host('client'), security, dataRoot);
      await cluster.waitFor(async () => (await cluster.masterStatus()).workers.filter((w) => !w.lost).length === n, 30_000, `${n} live workers`);
      return cluster;
    } catch (err) {
      await net.destroy();
      await rm(dataRoot, { recursive: true, force: true });
      throw err;
    }
  }

  /** Starts `braid <args>` on the client host, with the cluster's security flags. */
  cli(args: string[]): HostProcess {
    return this.client.spawn([CLI, ...args, ...this.security.client]);
  }

  /** Runs `braid <args>` on the client host to its end. */
  async cliRun(args: string[], timeoutMs = 60_000): Promise<HostProcess> {
    return this.client.run([CLI, ...args, ...this.security.client], timeoutMs);
  }

  async masterStatus(): Promise<MasterStatus> {
    const p = await this.cliRun(['status', '--master', this.master.address], 20_000);
    if (p.exitCode !== 0) throw new Error(`braid status failed:\n${p.tail()}`);
    return JSON.parse(p.stdout) as MasterStatus;
  }

  /** Starts the worker of `w` again with the same flags (same address and data directory). */
  restart(w: WorkerProcess): WorkerProcess {
    const proc = w.host.spawn(w.args);
    const again = { ...w, proc };
    this.workers[this.workers.indexOf(w)] = again;
    return again;
  }

  async waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        if (await check()) return;
      } catch {
        // not yet (e.g. the master is still starting)
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async destroy(): Promise<void> {
    await this.net.destroy();
    await rm(this.dataRoot, { recursive: true, force: true });
  }
}

export interface MasterStatus {
  workers: { address: string; lost: boolean; shuttingDown: boolean; slots: number }[];
}

export interface JobSummary {
  seconds: number;
  validated: boolean;
  line: string;
}

/** The summary line of `braid terasort|wordcount`. */
export function jobSummary(p: HostProcess): JobSummary {
  const m = /^(terasort|wordcount): .* in ([\d.]+) s, .*, (validated|NOT validated)$/m.exec(p.stdout);
  if (m === null) throw new Error(`no job summary:\n${p.tail()}`);
  return { seconds: Number(m[2]), validated: m[3] === 'validated', line: m[0] };
}
