import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  redactConfig,
  resolveConfig,
  resolveConfigWithSources,
  type ConfigRole,
  type ResolveInput,
  type RoleConfigs,
} from '../../src/config/index.js';
import { BraidError, ErrorCodes } from '../../src/protocol/index.js';

const dir = mkdtempSync(join(tmpdir(), 'braid-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
function configFile(content: unknown): string {
  const path = join(dir, `config-${fileCount++}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const G = 1024 ** 3;
const M = 1024 ** 2;
/** What a worker needs so that only the option under test can fail. */
const WORKER_ENV = { BRAID_MASTER: 'master.local:9000', BRAID_DATA_DIRS: '/d1' };

function configError<R extends ConfigRole>(role: R, input: Partial<ResolveInput<RoleConfigs[R]>>): BraidError {
  try {
    resolveConfig(role, { argv: [], env: {}, ...input });
  } catch (err) {
    expect(err).toBeInstanceOf(BraidError);
    const e = err as BraidError;
    expect(e.code).toBe(ErrorCodes.CONFIG);
    expect(e.retriable).toBe(false);
    return e;
  }
  throw new Error('expected a config error');
}

describe('defaults', () => {
  test('master', () => {
    expect(resolveConfig('master', { argv: [], env: {} })).toEqual({
      host: '127.0.0.1',
      advertiseHost: '',
      advertiseInterface: '',
      port: 0,
      httpPort: -1,
      heartbeatInterval: 5000,
      authSecret: '',
      authSecretFile: '',
      insecure: false,
      plaintext: false,
      tlsCaFile: '',
      tlsCertFile: '',
      tlsKeyFile: '',
      handshakeTimeout: 10_000,
      unauthenticatedIdleTimeout: 5_000,
      preAuthFrameLimit: 4096,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 1_000,
      logLevel: 'info',
      logFormat: 'text',
      quotaAppShuffles: 1000,
      quotaShufflePartitions: 200_000,
      pingInterval: 1000,
      deadPeerTimeout: 5000,
      connectTimeout: 5000,
      workerTimeout: 30_000,
      appTimeout: 60_000,
      slotStrategy: 'roundrobin',
      replicate: true,
      etcd: [],
      leaseTtl: 10_000,
      clusterName: 'braid',
      leaderGrace: 10_000,
    });
  });

  test('worker', () => {
    expect(resolveConfig('worker', { argv: [], env: WORKER_ENV })).toEqual({
      host: '127.0.0.1',
      advertiseHost: '',
      advertiseInterface: '',
      port: 0,
      httpPort: -1,
      heartbeatInterval: 5000,
      authSecret: '',
      authSecretFile: '',
      insecure: false,
      plaintext: false,
      tlsCaFile: '',
      tlsCertFile: '',
      tlsKeyFile: '',
      handshakeTimeout: 10_000,
      unauthenticatedIdleTimeout: 5_000,
      preAuthFrameLimit: 4096,
      maxConnections: 10_000,
      maxConnectionsPerAddress: 1_000,
      logLevel: 'info',
      logFormat: 'text',
      quotaAppShuffles: 1000,
      quotaShufflePartitions: 200_000,
      quotaAppBytes: 1024 ** 4,
      quotaAppFiles: 250_000,
      quotaWorkerApps: 1000,
      pingInterval: 1000,
      deadPeerTimeout: 5000,
      connectTimeout: 5000,
      drainTimeout: 30_000,
      decommissionTimeout: 6 * 3600_000,
      master: [{ host: 'master.local', port: 9000 }],
      dataDirs: ['/d1'],
      memoryLimit: G,
      lowWatermark: 0.75,
      replicaWatermark: 1.25,
      chunkSize: 8 * M,
      flushThreshold: M,
      splitThreshold: G,
      hardSplitLimit: 4 * G,
      diskReserve: G,
      chunkCacheSize: 256 * M,
      maxChunksInFlight: 64,
      essIndexCacheBytes: 64 * M,
      essMaxChunksBeingTransferred: 64,
      essLocalDirRoots: [],
    });
  });

  test('standalone has master and worker options minus master', () => {
    const c = resolveConfig('standalone', { argv: [], env: {} });
    expect(c).toMatchObject({ workers: 2, dataDir: '', replicate: true, dataDirs: [], slotStrategy: 'roundrobin', memoryLimit: G });
    expect('master' in c).toBe(false);
  });

  test('the result is frozen', () => {
    const c = resolveConfig('worker', { argv: [], env: WORKER_ENV });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.dataDirs)).toBe(true);
    expect(Object.isFrozen(c.master)).toBe(true);
  });
});

describe('precedence: default < caller defaults < file < env < flag', () => {
  const file = configFile({ memoryLimit: '2g', chunkSize: '4m', workerTimeout: '1m' });

  test.each<[string, Partial<ResolveInput<RoleConfigs['standalone']>>, number, string]>([
    ['default', {}, G, 'default'],
    ['caller defaults', { defaults: { memoryLimit: 512 * M } }, 512 * M, 'caller defaults'],
    ['file', { defaults: { memoryLimit: 512 * M }, argv: ['--config', file] }, 2 * G, `config file ${file}`],
    ['env', { argv: ['--config', file], env: { BRAID_MEMORY_LIMIT: '3g' } }, 3 * G, 'env BRAID_MEMORY_LIMIT'],
    [
      'flag',
      { argv: ['--config', file, '--memory-limit', '5g'], env: { BRAID_MEMORY_LIMIT: '3g' } },
      5 * G,
      'flag --memory-limit',
    ],
  ])('%s wins', (_name, input, bytes, source) => {
    const { config, sources } = resolveConfigWithSources('standalone', { argv: [], env: {}, ...input });
    expect(config.memoryLimit).toBe(bytes);
    expect(sources.memoryLimit).toBe(source);
  });

  test('each option comes from its own highest source', () => {
    const { config, sources } = resolveConfigWithSources('standalone', {
      argv: ['--config', file, '--workers', '3'],
      env: { BRAID_CHUNK_SIZE: '2m' },
    });
    expect(config).toMatchObject({ memoryLimit: 2 * G, chunkSize: 2 * M, workerTimeout: 60_000, workers: 3, port: 0 });
    expect(sources).toMatchObject({
      memoryLimit: `config file ${file}`,
      chunkSize: 'env BRAID_CHUNK_SIZE',
      workers: 'flag --workers',
      port: 'default',
    });
  });

  test('--config beats BRAID_CONFIG', () => {
    const other = configFile({ memoryLimit: '7g' });
    const env = { BRAID_CONFIG: other };
    expect(resolveConfig('standalone', { argv: [], env }).memoryLimit).toBe(7 * G);
    expect(resolveConfig('standalone', { argv: ['--config', file], env }).memoryLimit).toBe(2 * G);
    expect(resolveConfigWithSources('standalone', { argv: [`--config=${file}`], env }).configFile).toBe(file);
  });

  test('an empty env variable counts as unset; variables of other roles are ignored', () => {
    const c = resolveConfig('master', { argv: [], env: { BRAID_PORT: '', BRAID_MEMORY_LIMIT: 'lots', BRAID_WORKERS: '99' } });
    expect(c.port).toBe(0);
  });
});

describe('flag forms', () => {
  test('--name value, --name=value, lists and addresses', () => {
    const c = resolveConfig('worker', {
      argv: ['--master=[::1]:7000', '--data-dirs', ' /a, /b ,,/c', '--http-port', '-1', '--heartbeat-interval=250'],
      env: {},
    });
    expect(c.master).toEqual([{ host: '::1', port: 7000 }]);
    expect(c.dataDirs).toEqual(['/a', '/b', '/c']);
    expect(c.httpPort).toBe(-1);
    expect(c.heartbeatInterval).toBe(250);
  });

  test('several masters, for a worker of a cluster with elected masters', () => {
    const c = resolveConfig('worker', { argv: ['--master', 'm1:7000, [::1]:7001,m3:7002'], env: { BRAID_DATA_DIRS: '/d' } });
    expect(c.master).toEqual([
      { host: 'm1', port: 7000 },
      { host: '::1', port: 7001 },
      { host: 'm3', port: 7002 },
    ]);
    const file = configFile({ master: ['m1:1', 'm2:2'], dataDirs: ['/d'] });
    expect(resolveConfig('worker', { argv: ['--config', file], env: {} }).master).toEqual([
      { host: 'm1', port: 1 },
      { host: 'm2', port: 2 },
    ]);
  });

  test('a master with etcd', () => {
    const c = resolveConfig('master', { argv: ['--etcd', '10.0.0.1:2379,10.0.0.2:2379', '--lease-ttl', '3s', '--cluster-name', 'prod-1', '--leader-grace', '6s'], env: {} });
    expect(c).toMatchObject({ etcd: ['10.0.0.1:2379', '10.0.0.2:2379'], leaseTtl: 3000, clusterName: 'prod-1', leaderGrace: 6000 });
  });

  test.each<[string[], Record<string, string>, boolean]>([
    [[], {}, true],
    [['--no-replicate'], {}, false],
    [['--replicate'], { BRAID_REPLICATE: 'false' }, true],
    [['--replicate=off'], {}, false],
    [[], { BRAID_REPLICATE: 'no' }, false],
    [['--no-replicate', '--replicate'], {}, true],
  ])('bool %j with env %j -> %s', (argv, env, replicate) => {
    expect(resolveConfig('standalone', { argv, env }).replicate).toBe(replicate);
  });

  test('a later flag wins over an earlier one', () => {
    expect(resolveConfig('master', { argv: ['--port', '1', '--port', '2'], env: {} }).port).toBe(2);
  });

  test('JSON file values may be typed or text', () => {
    const file = configFile({ dataDirs: ['/x', '/y'], master: 'm:1', memoryLimit: 1048576, heartbeatInterval: 100, lowWatermark: 0.5 });
    const c = resolveConfig('worker', { argv: ['--config', file], env: {} });
    expect(c).toMatchObject({ dataDirs: ['/x', '/y'], master: [{ host: 'm', port: 1 }], memoryLimit: M, heartbeatInterval: 100, lowWatermark: 0.5 });
  });
});

describe('validation messages name the option and the source', () => {
  test.each<[string, ConfigRole, Partial<ResolveInput<RoleConfigs['standalone']>>, string]>([
    [
      'size',
      'standalone',
      { env: { BRAID_MEMORY_LIMIT: 'lots' } },
      'option "memoryLimit" (from env BRAID_MEMORY_LIMIT): expected a size like 512m or 2g, got "lots"',
    ],
    [
      'duration',
      'master',
      { argv: ['--worker-timeout', 'soon'] },
      'option "workerTimeout" (from flag --worker-timeout): expected a duration like 500ms, 10s or 2m, got "soon"',
    ],
    ['int', 'master', { argv: ['--port=80.5'] }, 'option "port" (from flag --port): expected an integer, got "80.5"'],
    ['int below min', 'standalone', { argv: ['--workers', '0'] }, 'option "workers" (from flag --workers): must be at least 1, got "0"'],
    ['int above max', 'standalone', { env: { BRAID_WORKERS: '17' } }, 'option "workers" (from env BRAID_WORKERS): must be at most 16, got "17"'],
    ['port range', 'master', { env: { BRAID_PORT: '70000' } }, 'option "port" (from env BRAID_PORT): must be at most 65535, got "70000"'],
    [
      'number',
      'standalone',
      { env: { BRAID_LOW_WATERMARK: 'half' } },
      'option "lowWatermark" (from env BRAID_LOW_WATERMARK): expected a number, got "half"',
    ],
    [
      'ratio range',
      'standalone',
      { argv: ['--replica-watermark', '0.9'] },
      'option "replicaWatermark" (from flag --replica-watermark): must be at least 1, got "0.9"',
    ],
    [
      'size with a size bound',
      'standalone',
      { defaults: { memoryLimit: 0 } },
      'option "memoryLimit" (from caller defaults): must be at least 1, got 0',
    ],
    [
      'bool',
      'standalone',
      { argv: ['--replicate=maybe'] },
      'option "replicate" (from flag --replicate): expected true or false, got "maybe"',
    ],
    [
      'enum',
      'master',
      { argv: ['--slot-strategy', 'random'] },
      'option "slotStrategy" (from flag --slot-strategy): expected one of roundrobin, loadaware, got "random"',
    ],
    [
      'address',
      'worker',
      { env: { BRAID_DATA_DIRS: '/d', BRAID_MASTER: 'nohost' } },
      'option "master" (from env BRAID_MASTER): expected host:port (or several, comma separated) with ports in 1..65535, got "nohost"',
    ],
    [
      'address port',
      'worker',
      { env: { BRAID_DATA_DIRS: '/d' }, argv: ['--master', 'h:0'] },
      'option "master" (from flag --master): expected host:port (or several, comma separated) with ports in 1..65535, got "h:0"',
    ],
    [
      'one bad address of several',
      'worker',
      { env: { BRAID_DATA_DIRS: '/d' }, argv: ['--master', 'h:1,h2'] },
      'option "master" (from flag --master): expected host:port (or several, comma separated) with ports in 1..65535, got "h:1,h2"',
    ],
    [
      'lease TTL in whole seconds',
      'master',
      { argv: ['--lease-ttl', '2500ms'] },
      'option "leaseTtl" (from flag --lease-ttl): must be whole seconds (etcd lease TTLs are), got 2500ms',
    ],
    [
      'lease TTL too short',
      'master',
      { argv: ['--lease-ttl', '1s'] },
      'option "leaseTtl" (from flag --lease-ttl): must be at least 2s, got "1s"',
    ],
    [
      'cluster name',
      'master',
      { env: { BRAID_CLUSTER_NAME: 'a/b' } },
      'option "clusterName" (from env BRAID_CLUSTER_NAME): must be 1 to 64 of A-Z a-z 0-9 . _ -, got "a/b"',
    ],
    [
      'leader grace shorter than the heartbeat',
      'master',
      { argv: ['--etcd', 'e:2379', '--leader-grace', '1s', '--heartbeat-interval', '2s'] },
      'option "leaderGrace" (from flag --leader-grace): must be at least heartbeatInterval (2s, from flag --heartbeat-interval), or workers may not have heartbeated when it ends, got 1s',
    ],
    [
      'empty required list',
      'worker',
      { env: { BRAID_MASTER: 'h:1' }, argv: ['--data-dirs', ' , '] },
      'option "dataDirs" (from flag --data-dirs): must list at least one entry',
    ],
  ])('%s', (_kind, role, input, message) => {
    expect(configError(role, input).message).toBe(message);
  });

  test('values from the config file name the file', () => {
    const file = configFile({ slotStrategy: 'roundrobin', host: 5 });
    expect(configError('master', { argv: ['--config', file] }).message).toBe(
      `option "host" (from config file ${file}): expected a string, got 5`,
    );
    const listFile = configFile({ dataDirs: ['/a', 3] });
    expect(configError('standalone', { env: { BRAID_CONFIG: listFile } }).message).toBe(
      `option "dataDirs" (from config file ${listFile}): expected a comma separated list of non-empty strings, got ["/a",3]`,
    );
  });

  test('a bad value is reported even when a later source overrides it', () => {
    const file = configFile({ chunkSize: 'big' });
    expect(configError('standalone', { argv: ['--config', file, '--chunk-size', '1m'] }).message).toContain(
      `option "chunkSize" (from config file ${file})`,
    );
  });

  test('a secret is never echoed', () => {
    const file = configFile({ authSecret: 123456 });
    const e = configError('master', { argv: ['--config', file] });
    expect(e.message).toBe(`option "authSecret" (from config file ${file}): expected a string, got <hidden>`);
    expect(e.message).not.toContain('123456');
  });

  test.each<[ConfigRole, Record<string, string>, string]>([
    ['worker', { BRAID_DATA_DIRS: '/d' }, 'option "master" is required for the worker role; set --master, BRAID_MASTER or "master" in a config file'],
    ['worker', { BRAID_MASTER: 'h:1' }, 'option "dataDirs" is required for the worker role; set --data-dirs, BRAID_DATA_DIRS or "dataDirs" in a config file'],
  ])('required option missing (%s, env %j)', (role, env, message) => {
    expect(configError(role, { env }).message).toBe(message);
  });
});

describe('cross-field checks', () => {
  test.each<[ConfigRole, Partial<ResolveInput<RoleConfigs['standalone']>>, string]>([
    [
      'master',
      { argv: ['--heartbeat-interval', '30s'] },
      'option "heartbeatInterval" (from flag --heartbeat-interval): must be shorter than workerTimeout (30s, from default), got 30s',
    ],
    [
      'standalone',
      { env: { BRAID_LOW_WATERMARK: '1' } },
      'option "lowWatermark" (from env BRAID_LOW_WATERMARK): must be below 1, or paused sockets would only resume at memoryLimit itself, got 1',
    ],
    [
      'worker',
      { env: { ...WORKER_ENV, BRAID_HARD_SPLIT_LIMIT: '512m' } },
      'option "splitThreshold" (from default): must not exceed hardSplitLimit (512m, from env BRAID_HARD_SPLIT_LIMIT), got 1g',
    ],
    [
      'standalone',
      { argv: ['--flush-threshold', '2m', '--memory-limit', '1m'] },
      'option "flushThreshold" (from flag --flush-threshold): must not exceed memoryLimit (1m, from flag --memory-limit), got 2m',
    ],
    [
      'standalone',
      { argv: ['--workers', '1'] },
      'option "replicate" (from default): needs workers (1, from flag --workers) to be at least 2 (or turn replicate off), got true',
    ],
    [
      'standalone',
      { argv: ['--data-dir', '/tmp/x', '--data-dirs', '/a'] },
      'option "dataDirs" (from flag --data-dirs): cannot be combined with dataDir ("/tmp/x", from flag --data-dir); set only one of them, got /a',
    ],
  ])('%s %j', (role, input, message) => {
    expect(configError(role, input).message).toBe(message);
  });

  test('a single worker without replication is fine', () => {
    expect(resolveConfig('standalone', { argv: ['--workers', '1', '--no-replicate'], env: {} }).workers).toBe(1);
  });
});

describe('unknown or malformed input', () => {
  test.each<[string[], string]>([
    [['--slot-strategi', 'x'], 'unknown flag --slot-strategi; did you mean --slot-strategy?'],
    [['--memory-limit', '1g'], 'unknown flag --memory-limit'],
    [['--frobnicate'], 'unknown flag --frobnicate'],
    [['--workers', '3'], 'unknown flag --workers'],
    [['serve'], 'unexpected argument "serve"'],
    [['-p', '1'], 'unexpected argument "-p"'],
    [['--port'], 'flag --port needs a value'],
    [['--port', '--host', 'x'], 'flag --port needs a value'],
    [['--config'], 'flag --config needs a value'],
    [['--no-port'], 'flag --no-port: option "port" is not a boolean, so it has no --no- form'],
  ])('master %j', (argv, message) => {
    expect(configError('master', { argv }).message).toBe(message);
  });

  test('--no-flag takes no value', () => {
    expect(configError('standalone', { argv: ['--no-replicate=true'] }).message).toBe('flag --no-replicate takes no value');
  });

  test('unknown config file key', () => {
    const file = configFile({ memLimit: '1g' });
    expect(configError('standalone', { argv: ['--config', file] }).message).toBe(
      `config file ${file}: unknown option "memLimit"`,
    );
    const typo = configFile({ memorylimit: '1g' });
    expect(configError('standalone', { argv: ['--config', typo] }).message).toBe(
      `config file ${typo}: unknown option "memorylimit"; did you mean memoryLimit?`,
    );
    // master has no worker options
    const workerKey = configFile({ chunkSize: '1m' });
    expect(configError('master', { argv: ['--config', workerKey] }).message).toBe(
      `config file ${workerKey}: unknown option "chunkSize"`,
    );
  });

  test('config file that is missing, not JSON, or not an object', () => {
    const missing = join(dir, 'nope.json');
    const e = configError('master', { argv: ['--config', missing] });
    expect(e.message).toMatch(new RegExp(`^config file ${missing}: cannot read it \\(.*ENOENT`));
    expect(e.cause).toBeInstanceOf(Error);

    const broken = configFile('{"port": ');
    expect(configError('master', { argv: ['--config', broken] }).message).toMatch(
      new RegExp(`^config file ${broken}: not valid JSON \\(`),
    );
    const list = configFile([1, 2]);
    expect(configError('master', { env: { BRAID_CONFIG: list } }).message).toBe(
      `config file ${list}: expected a JSON object of options`,
    );
  });

  test('unknown caller default', () => {
    const defaults = JSON.parse('{"bogus": 1}') as Partial<RoleConfigs['master']>;
    expect(configError('master', { defaults }).message).toBe('caller defaults: unknown option "bogus"');
  });
});

test('redactConfig hides secrets only when set', () => {
  const open = resolveConfig('master', { argv: [], env: {} });
  expect(redactConfig('master', open).authSecret).toBe('');
  const locked = resolveConfig('master', { argv: [], env: { BRAID_AUTH_SECRET: 's3cret' } });
  expect(locked.authSecret).toBe('s3cret');
  const shown = redactConfig('master', locked);
  expect(shown.authSecret).toBe('<hidden>');
  expect(shown.port).toBe(0);
  expect(JSON.stringify(shown)).not.toContain('s3cret');
});
