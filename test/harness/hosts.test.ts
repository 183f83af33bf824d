/**
 * The host harness itself, on plain TCP: hosts reach each other; a cut host
 * and a cut link go silent (an open connection neither errors nor closes,
 * a new one neither connects nor is refused) and come back when healed; a
 * one-link cut leaves every other path working; destroy() leaves nothing.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { TestNetwork, canBuildHosts, type Host, type HostProcess } from './hosts.js';

const PROBE = fileURLToPath(new URL('./probe.mjs', import.meta.url));
const PORT = '7000';

let net: TestNetwork | undefined;
afterEach(async () => {
  await net?.destroy();
  net = undefined;
});

async function ping(from: Host, to: Host, ms = 1500): Promise<string> {
  const p = await from.run([PROBE, 'ping', to.ip, PORT, String(ms)], ms + 10_000);
  return (JSON.parse(p.stdout.trim()) as { result: string }).result;
}

function echoes(p: HostProcess): number {
  return p.stdout.split('\n').filter((l) => l.startsWith('echo ')).length;
}

async function grows(p: HostProcess, timeoutMs: number): Promise<boolean> {
  const before = echoes(p);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (echoes(p) > before + 2) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe.skipIf(!canBuildHosts())('test hosts', () => {
  test('cut host, cut link and heal: silent both ways, other paths untouched, nothing left behind', async () => {
    net = await TestNetwork.create(['a', 'b', 'c']);
    const [a, b, c] = [net.host('a'), net.host('b'), net.host('c')];
    expect(new Set([a.ip, b.ip, c.ip]).size).toBe(3);
    await Promise.all([b.spawn([PROBE, 'serve', PORT]).waitFor(/listening/), c.spawn([PROBE, 'serve', PORT]).waitFor(/listening/)]);
    expect(await ping(a, b)).toBe('echoed');
    const hold = a.spawn([PROBE, 'hold', b.ip, PORT]);
    expect(await grows(hold, 5000)).toBe(true);

    // The host goes silent: the open connection stalls without an error, a new one times out.
    await net.cutHost('b');
    await new Promise((r) => setTimeout(r, 300));
    const atCut = echoes(hold);
    expect(await ping(c, b)).toBe('timeout');
    expect(echoes(hold)).toBe(atCut);
    expect(hold.stdout).not.toMatch(/closed/);
    await net.healHost('b');
    expect(await grows(hold, 15_000)).toBe(true);
    expect(await ping(c, b)).toBe('echoed');

    // One link only: a and b lose each other, everyone else keeps talking.
    await net.cutLink('a', 'b');
    await new Promise((r) => setTimeout(r, 300));
    const atLinkCut = echoes(hold);
    expect(await ping(a, b)).toBe('timeout');
    expect(await ping(c, b)).toBe('echoed');
    expect(await ping(a, c, 3000)).toBe('echoed');
    expect(echoes(hold)).toBe(atLinkCut);
    expect(hold.stdout).not.toMatch(/closed/);
    await net.healLink('a', 'b');
    expect(await grows(hold, 15_000)).toBe(true);
    expect(await ping(a, b)).toBe('echoed');

    const { id, bridge } = net;
    await net.destroy();
    net = undefined;
    expect(hold.running).toBe(false);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(id);
    expect(execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })).not.toContain(bridge);
  });
});
