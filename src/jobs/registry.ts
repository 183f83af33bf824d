import type { AnyJob } from './job.js';

/** Jobs by name; task processes load them from here. */
const loaders: Record<string, () => Promise<AnyJob>> = {
  terasort: async () => (await import('./terasort.js')).teraSortJob as unknown as AnyJob,
  wordcount: async () => (await import('./wordcount.js')).wordCountJob as unknown as AnyJob,
};

export async function loadJob(name: string): Promise<AnyJob> {
  const load = loaders[name];
  if (load === undefined) throw new Error(`unknown job "${name}" (known: ${Object.keys(loaders).join(', ')})`);
  return load();
}

export const JOB_NAMES = Object.keys(loaders);
