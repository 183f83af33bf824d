/**
 * Writes a map output the way a Spark executor does, for tests and tools:
 * one data file with every reduce partition back to back, one index file of
 * numPartitions + 1 big-endian u64 offsets, both at the paths the layout
 * gives (file-resolver.ts). Each file is written under a temporary name and
 * renamed into place, data first, so whoever sees the index sees its data.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { dataFileName, indexFileName, resolveFile } from './file-resolver.js';

/** The index of `partitions`: their running byte offsets, starting at 0. */
export function encodeIndex(partitions: readonly Buffer[]): Buffer {
  const index = Buffer.alloc(8 * (partitions.length + 1));
  let offset = 0;
  partitions.forEach((p, r) => {
    offset += p.length;
    index.writeBigUInt64BE(BigInt(offset), 8 * (r + 1));
  });
  return index;
}

async function writeAtomically(path: string, parts: readonly Buffer[]): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      // Each writeFile continues at the handle's position, so the parts land back to back.
      for (const p of parts) await fh.writeFile(p);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeMapOutput(
  localDirs: readonly string[],
  subDirsPerLocalDir: number,
  shuffleId: number,
  mapId: number,
  partitions: readonly Buffer[],
): Promise<{ dataPath: string; indexPath: string }> {
  const layout = { localDirs, subDirsPerLocalDir };
  const dataPath = resolveFile(layout, dataFileName(shuffleId, mapId));
  const indexPath = resolveFile(layout, indexFileName(shuffleId, mapId));
  await writeAtomically(dataPath, partitions);
  await writeAtomically(indexPath, [encodeIndex(partitions)]);
  return { dataPath, indexPath };
}
