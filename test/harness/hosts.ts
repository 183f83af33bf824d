/**
 * Test hosts on one machine: Linux network namespaces, each with its own
 * address in a private range, joined by veth pairs on a bridge of their own
 * (iproute2; needs root, which CI has). Roles run in a host as real processes
 * from the real entry points (`ip netns exec <ns> node dist/server.js ...`).
 *
 * Faults are a separate, small component of the network, always healed or
 * torn down by the test:
 *
 * - cutHost: the host's link goes down (inside its namespace). Both
 *   directions go silent at once; no FIN, no RST reaches anyone: what a
 *   pulled cable or a dead switch port looks like.
 * - cutLink: only the traffic between two hosts is dropped, both ways, by a
 *   /32 route on each side into a sink (a veth pair inside the host whose
 *   far end has no address, reached through a permanent neighbour entry so
 *   not even ARP answers). Established connections stall silently and new
 *   ones hang in SYN, as behind a firewall that drops. (This kernel has no
 *   netem and no iptables; routes need neither.)
 *
 * Names carry the test process's pid and a random suffix, so two runs at once
 * never collide; the bridge has no address in the root namespace. Everything
 * is removed by destroy(), on process exit and on SIGINT/SIGTERM; a network
 * left behind by a run that was SIGKILLed is swept when the next one starts.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PREFIX = 'braidnet';

async function ip(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run('ip', args, { timeout: 20_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${e.stderr?.trim() || e.message}`);
  }
}

function ipSync(...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'ignore', timeout: 20_000 });
  } catch {
    // best effort: the object may be gone already
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether this machine can build test hosts (root, iproute2 with netns). */
export function canBuildHosts(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A process running in a host; its output is collected as it arrives. */
export class HostProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitState: { code: number | null; signal: NodeJS.Signals | null } | undefined;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) => {
      child.once('close', (code, signal) => {
        this.exitState = { code, signal };
        resolve(this.exitState);
      });
    });
  }

  get running(): boolean {
    return this.exitState === undefined;
  }

  get exitCode(): number | null | undefined {
    return this.exitState?.code;
  }

  /** Resolves with the first match in stdout or stderr; fails when the process exits first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000, stream: 'stdout' | 'stderr' = 'stdout'): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this[stream].match(pattern);
      if (m) return m;
      if (!this.running) throw new Error(`${this.label} exited (${JSON.stringify(this.exitState)}) before ${pattern}:\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.label}: no ${pattern} within ${timeoutMs} ms:\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The log lines of a `--log-format json` process, parsed. */
  logs(): Record<string, unknown>[] {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.running) this.child.kill(signal);
  }

  tail(): string {
    return `--- stdout\n${this.stdout.slice(-3000)}\n--- stderr\n${this.stderr.slice(-6000)}`;
  }
}

/** One namespace: a host with one interface, `eth0`, on the network's bridge. */
export class Host {
  readonly processes: HostProcess[] = [];
  private sink = false;

  constructor(
    readonly net: TestNetwork,
    readonly name: string,
    /** The namespace's name. */
    readonly ns: string,
    readonly ip: string,
  ) {}

  /** Starts `node <args>` in this host. */
  spawn(args: string[], env: Record<string, string> = {}, label = `${this.name}: ${args.slice(0, 2).join(' ')}`): HostProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns, process.execPath, ...args], {
      env: { ...cleanEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new HostProcess(child, label);
    this.processes.push(p);
    return p;
  }

  /** Runs `node <args>` in this host to its end; SIGKILLs it and fails after `timeoutMs`. */
  async run(args: string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<HostProcess> {
    const p = this.spawn(args, env);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
    const result = await Promise.race([p.exited, late]);
    clearTimeout(timer);
    if (result === 'late') {
      p.kill();
      await p.exited;
      throw new Error(`${p.label} did not finish within ${timeoutMs} ms:\n${p.tail()}`);
    }
    return p;
  }

  /** The sink for one-link cuts: a veth pair inside the host, its far end without an address. */
  async ensureSink(): Promise<void> {
    if (this.sink) return;
    await ip('-n', this.ns, 'link', 'add', 'cut0', 'type', 'veth', 'peer', 'name', 'cut1');
    await ip('-n', this.ns, 'link', 'set', 'cut0', 'up');
    await ip('-n', this.ns, 'link', 'set', 'cut1', 'up');
    this.sink = true;
  }
}

function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('BRAID_') && !k.startsWith('NODE_DEBUG') && !k.startsWith('VITEST')) env[k] = v;
  return env;
}

const SINK_MAC = '02:00:00:00:00:01';
const live = new Set<TestNetwork>();

export class TestNetwork {
  private readonly hosts = new Map<string, Host>();
  private readonly cutLinks = new Set<string>();
  private destroyed = false;

  private constructor(
    /** Unique per network: pid (base 36) and random hex. */
    readonly id: string,
    readonly bridge: string,
    /** The first three octets of the hosts' /24. */
    readonly subnet: string,
  ) {}

  /** Builds a bridge and one namespace per name, each with its own address, all reachable from each other. */
  static async create(names: readonly string[]): Promise<TestNetwork> {
    if (names.length > 200) throw new Error('at most 200 hosts');
    await sweepStale();
    const id = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
    // A random private /24: two runs on different bridges could even share one, but need not.
    const subnet = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`;
    const net = new TestNetwork(id, `bb${id}`, subnet);
    live.add(net);
    try {
      await ip('link', 'add', net.bridge, 'type', 'bridge');
      await ip('link', 'set', net.bridge, 'up');
      let i = 0;
      for (const name of names) await net.addHost(name, ++i);
    } catch (err) {
      await net.destroy();
      throw err;
    }
    return net;
  }

  private async addHost(name: string, index: number): Promise<void> {
    const ns = `${PREFIX}-${this.id}-${name}`;
    const outside = `v${index}${this.id}`;
    const inside = `i${index}${this.id}`;
    const address = `${this.subnet}.${index + 1}`;
    await ip('netns', 'add', ns);
    const host = new Host(this, name, ns, address);
    this.hosts.set(name, host);
    await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', inside);
    await ip('link', 'set', outside, 'master', this.bridge);
    await ip('link', 'set', outside, 'up');
    await ip('link', 'set', inside, 'netns', ns);
    await ip('-n', ns, 'link', 'set', inside, 'name', 'eth0');
    await ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  }

  all(): Host[] {
    return [...this.hosts.values()];
  }

  /** Takes the host's link down: it and everyone else see silence, nothing else. */
  async cutHost(name: string): Promise<void> {
    await ip('-n', this.host(name).ns, 'link', 'set', 'eth0', 'down');
  }

  async healHost(name: string): Promise<void> {
    await ip('-n', this.host(name).ns, 'link', 'set', 'eth0', 'up');
  }

  /** Drops all traffic between two hosts, both ways; every other path keeps working. */
  async cutLink(a: string, b: string): Promise<void> {
    const [ha, hb] = [this.host(a), this.host(b)];
    for (const [from, to] of [
      [ha, hb],
      [hb, ha],
    ] as const) {
      await from.ensureSink();
      await ip('-n', from.ns, 'neigh', 'replace', to.ip, 'lladdr', SINK_MAC, 'dev', 'cut0', 'nud', 'permanent');
      await ip('-n', from.ns, 'route', 'replace', `${to.ip}/32`, 'dev', 'cut0');
    }
    this.cutLinks.add(`${a}|${b}`);
  }

  async healLink(a: string, b: string): Promise<void> {
    const [ha, hb] = [this.host(a), this.host(b)];
    for (const [from, to] of [
      [ha, hb],
      [hb, ha],
    ] as const) {
      await ip('-n', from.ns, 'route', 'del', `${to.ip}/32`, 'dev', 'cut0');
      await ip('-n', from.ns, 'neigh', 'del', to.ip, 'dev', 'cut0');
    }
    this.cutLinks.delete(`${a}|${b}`);
  }

  /** Kills every process of every host, deletes the namespaces (their veths go with them) and the bridge. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts.values()) for (const p of h.processes) p.kill('SIGKILL');
    await Promise.all([...this.hosts.values()].flatMap((h) => h.processes.map((p) => p.exited)));
    for (const h of this.hosts.values()) await removeNamespace(h.ns);
    await ip('link', 'del', this.bridge).catch(() => undefined);
    live.delete(this);
  }

  /** The synchronous last resort, for process exit and signals. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const h of this.hosts.values()) for (const p of h.processes) p.kill('SIGKILL');
    for (const h of this.hosts.values()) {
      killNamespacePidsSync(h.ns);
      ipSync('netns', 'del', h.ns);
    }
    ipSync('link', 'del', this.bridge);
    live.delete(this);
  }
}

async function removeNamespace(ns: string): Promise<void> {
  // Anything still running in it (a child of a child) dies first: a namespace with live processes outlives its deletion.
  const pids = (await ip('netns', 'pids', ns).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await ip('netns', 'del', ns).catch(() => undefined);
}

function killNamespacePidsSync(ns: string): void {
  let out = '';
  try {
    out = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  } catch {
    return;
  }
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
}

/** Removes namespaces and bridges left by runs whose process is gone (e.g. SIGKILLed). */
async function sweepStale(): Promise<void> {
  const owner = (id: string) => parseInt(id.slice(0, -4), 36);
  const namespaces = (await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`${PREFIX}-`));
  for (const ns of namespaces) {
    const id = ns.split('-')[1] ?? '';
    if (!alive(owner(id))) await removeNamespace(ns);
  }
  const bridges = (await ip('-o', 'link', 'show', 'type', 'bridge'))
    .split('\n')
    .map((l) => /^\d+: (bb[0-9a-z]+)[:@]/.exec(l)?.[1])
    .filter((b): b is string => b !== undefined);
  for (const b of bridges) if (!alive(owner(b.slice(2)))) await ip('link', 'del', b).catch(() => undefined);
}

function destroyAllSync(): void {
  for (const net of [...live]) net.destroySync();
}
process.on('exit', destroyAllSync);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    destroyAllSync();
    process.kill(process.pid, signal);
  });
}
