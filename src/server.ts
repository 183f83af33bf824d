#!/usr/bin/env node
/**
 * Server entry: `node dist/server.js master|worker|standalone [--option value ...]`.
 * Options come from defaults, a config file (--config or BRAID_CONFIG), the
 * environment (BRAID_*) and flags, later wins. Prints one ready line:
 * `braid <role> ready {"master":"host:port",...}`, then serves until SIGTERM
 * or SIGINT, which stop it cleanly.
 */
import { describeOptions, helpRequested, resolveConfig, type ConfigRole } from './config/index.js';
import { asBraidError } from './protocol/index.js';
import { runMaster, runStandalone, runWorker, type RunningRole } from './server/roles.js';

const ROLES: readonly ConfigRole[] = ['master', 'worker', 'standalone'];

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
  let running: RunningRole;
  try {
    const input = { argv: flags, env: process.env };
    running =
      role === 'master'
        ? await runMaster(resolveConfig('master', input))
        : role === 'worker'
          ? await runWorker(resolveConfig('worker', input))
          : await runStandalone(resolveConfig('standalone', input));
  } catch (err) {
    const e = asBraidError(err);
    process.stderr.write(`braid ${role}: ${e.code}: ${e.message}\n`);
    return 2;
  }
  process.stdout.write(`braid ${role} ready ${JSON.stringify(running.ready)}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`braid ${role}: ${signal}, stopping\n`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
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
