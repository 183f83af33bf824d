#!/usr/bin/env node
/**
 * Server entry: `node dist/server.js master|worker|standalone [--option value ...]`.
 * Options come from defaults, a config file (--config or BRAID_CONFIG), the
 * environment (BRAID_*) and flags, later wins. Prints one ready line:
 * `braid <role> ready {"master":"host:port",...}`, then serves until SIGTERM
 * or SIGINT, which stop it cleanly. SIGHUP reads the TLS files again. A
 * worker also takes SIGUSR2: decommission (no new work, reads served until
 * its shuffles are gone, then it exits 0).
 */
import { describeOptions, helpRequested, resolveConfig, type ConfigRole, type RoleConfigs } from './config/index.js';
import { componentLogger, configureLogging } from './log/index.js';
import { asBraidError } from './protocol/index.js';
import { runMaster, runStandalone, runWorker, type RunningRole } from './server/roles.js';

const ROLES: readonly ConfigRole[] = ['master', 'worker', 'standalone'];

const RUNNERS: { readonly [R in ConfigRole]: (config: RoleConfigs[R]) => Promise<RunningRole> } = {
  master: runMaster,
  worker: runWorker,
  standalone: runStandalone,
};

function start<R extends ConfigRole>(role: R, flags: string[]): Promise<RunningRole> {
  const config: RoleConfigs[R] = resolveConfig(role, { argv: flags, env: process.env });
  configureLogging({ level: config.logLevel, format: config.logFormat });
  return RUNNERS[role](config);
}

async function main(argv: string[]): Promise<number> {
  const role = argv[0] as ConfigRole | undefined;
  if (role === undefined || !ROLES.includes(role)) {
    process.stderr.write(`usage: node dist/server.js <${ROLES.join('|')}> [options]   (--help for the options of a role)\n`);
    return 2;
  }
  const flags = argv.slice(1);
  if (helpRequested(flags)) {
    process.stdout.write(describeOptions(role) + '\n');
    return 0;
  }
  // Listen for the stop signals before starting: one that arrives during
  // startup stops the role as soon as it is up, instead of killing the
  // process half-started (and leaving, e.g., a standalone's temporary data).
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let running: RunningRole | undefined;
  // A renewed certificate is picked up without a restart; a bad renewal is refused and the old one kept.
  process.on('SIGHUP', () => {
    const log = componentLogger(role);
    try {
      if (running === undefined) return; // still starting: the files are being read anyway
      running.reloadTls();
      log.info('SIGHUP: TLS certificate and key read again');
    } catch (err) {
      log.error({ code: asBraidError(err).code }, `SIGHUP: TLS files not reloaded, the old ones stay in use: ${asBraidError(err).message}`);
    }
  });
  // SIGUSR2 takes a worker out of service (it exits by itself once its shuffles are gone); one
  // that arrives during startup is kept for then. Other roles ignore it rather than die of it.
  let decommissionAsked = false;
  process.on('SIGUSR2', () => {
    if (running === undefined) decommissionAsked = true;
    else if (running.decommission) running.decommission();
    else process.stderr.write(`braid ${role}: SIGUSR2 ignored (only a worker can be decommissioned)\n`);
  });
  try {
    running = await start(role, flags);
  } catch (err) {
    const e = asBraidError(err);
    process.stderr.write(`braid ${role}: ${e.code}: ${e.message}\n`);
    return 2;
  }
  process.stdout.write(`braid ${role} ready ${JSON.stringify(running.ready)}\n`);
  if (decommissionAsked) running.decommission?.();
  const ended = await Promise.race([stopSignal, running.stopped?.then(() => 'stopped' as const) ?? new Promise<never>(() => undefined)]);
  if (ended === 'stopped') {
    process.stderr.write(`braid ${role}: out of service, exiting\n`);
    return 0;
  }
  process.stderr.write(`braid ${role}: ${ended}, stopping\n`);
  await running.close();
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`braid: ${asBraidError(err).message}\n`);
    process.exit(1);
  },
);
