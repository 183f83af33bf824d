import type { Logger } from '../../log/index.js';
import type { DataDirs } from '../../storage/index.js';

type DiskState = 'ok' | 'full' | 'unhealthy';

/**
 * Logs each data directory's changes of state, as seen at every refresh:
 * unhealthy (I/O or statfs failed: it takes no files), full (free space at
 * or under the reserve: no new files, pushes answer HARD_SPLIT), and back.
 * Returns the check to run after each refresh.
 */
export function diskWatch(dataDirs: DataDirs, log: Logger): () => void {
  const last = new Map<string, DiskState>();
  return () => {
    for (const d of dataDirs.all) {
      const state: DiskState = !d.healthy ? 'unhealthy' : dataDirs.belowReserve(d) ? 'full' : 'ok';
      const before = last.get(d.path) ?? 'ok';
      last.set(d.path, state);
      if (state === before) continue;
      const fields = { dir: d.path, freeBytes: d.freeBytes, reserveBytes: dataDirs.reserveBytes };
      if (state === 'unhealthy') log.error({ ...fields, reason: String((d.error as Error | undefined)?.message ?? d.error) }, 'disk unhealthy: it takes no new files');
      else if (state === 'full') log.warn(fields, 'disk full: free space at or under its reserve; no new files, pushes answer HARD_SPLIT');
      else log.info(fields, before === 'unhealthy' ? 'disk healthy again' : 'disk has space again');
    }
  };
}
