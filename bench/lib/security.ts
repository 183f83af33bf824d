/**
 * Benchmarks run with authentication on, as production does: one random
 * cluster secret per benchmark run, handed to the peer processes through the
 * environment (never their command lines), and per-application keys derived
 * from it. TLS is measured on its own (transport.push.tls).
 */
import { applicationKey } from '../../src/security/keys.js';
import { randomSecret } from '../../src/security/secret-file.js';

export const BENCH_SECRET_ENV = 'BRAID_BENCH_SECRET';

/** The run's cluster secret; made on first use and inherited by every peer spawned after that. */
export function benchSecret(): string {
  const existing = process.env[BENCH_SECRET_ENV];
  if (existing !== undefined && existing !== '') return existing;
  const secret = randomSecret();
  process.env[BENCH_SECRET_ENV] = secret;
  return secret;
}

/** The key of `appId` under the run's secret. */
export function benchAppKey(appId: string): string {
  return applicationKey(benchSecret(), appId);
}
