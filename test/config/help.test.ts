import { describe, expect, test } from 'vitest';
import { describeOptions, helpRequested, resolveConfig, type ConfigRole } from '../../src/config/index.js';

const ENV_FOR: Record<ConfigRole, Record<string, string>> = {
  master: {},
  worker: { BRAID_MASTER: 'h:1', BRAID_DATA_DIRS: '/d' },
  standalone: {},
};

describe.each<ConfigRole>(['master', 'worker', 'standalone'])('describeOptions(%s)', (role) => {
  const help = describeOptions(role);
  const options = Object.keys(resolveConfig(role, { argv: [], env: ENV_FOR[role] }));

  test('lists every option with its flag and env variable', () => {
    expect(options.length).toBeGreaterThan(5);
    for (const option of options) {
      const flag = option.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      const env = `BRAID_${option.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
      const line = help.split('\n').find((l) => l.includes(`--${flag} `) || l.includes(`--[no-]${flag} `));
      expect(line, `row for ${option}`).toBeDefined();
      expect(line).toContain(env);
    }
    expect(help).toContain('--config <path>');
    expect(help).toContain('BRAID_CONFIG');
    expect(help).toContain(`braid ${role}`);
  });

  test('has one row per option plus the header and --config rows', () => {
    const rows = help.split('\n').filter((l) => /^ {2}--/.test(l));
    expect(rows).toHaveLength(options.length + 1);
  });
});

test('help shows defaults in the notation users write', () => {
  const help = describeOptions('standalone');
  const row = (flag: string): string => help.split('\n').find((l) => l.includes(`${flag} `)) ?? '';
  expect(row('--memory-limit')).toMatch(/<size>\s+BRAID_MEMORY_LIMIT\s+1g\s/);
  expect(row('--worker-timeout')).toMatch(/\s30s\s/);
  expect(row('--slot-strategy <roundrobin|loadaware>')).toMatch(/\sroundrobin\s/);
  expect(row('--[no-]replicate')).toMatch(/\strue\s/);
  expect(row('--workers')).toContain('[1..16]');
  expect(describeOptions('worker').split('\n').find((l) => l.includes('--master '))).toMatch(/\srequired\s/);
});

test('helpRequested', () => {
  expect(helpRequested(['--port', '1', '--help'])).toBe(true);
  expect(helpRequested(['-h'])).toBe(true);
  expect(helpRequested(['--port', '1'])).toBe(false);
});
