/**
 * Checks of TeraSort output written for these tests alone (not the product's
 * validators): global key order, record counts, and that the output is the
 * input rearranged.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KEY, RECORD } from './helpers.js';

/** The part-NNNNN files of an output directory, in name order, and their concatenation. */
export async function readOutput(dir: string): Promise<{ names: string[]; data: Buffer }> {
  const names = (await readdir(dir)).filter((n) => n.startsWith('part-')).sort();
  const parts = await Promise.all(names.map((n) => readFile(join(dir, n))));
  return { names, data: Buffer.concat(parts) };
}

/** Index of the first record whose key is below its predecessor's, or -1 when sorted. */
export function firstUnsorted(data: Buffer): number {
  for (let o = RECORD; o < data.length; o += RECORD) {
    if (Buffer.compare(data.subarray(o - RECORD, o - RECORD + KEY), data.subarray(o, o + KEY)) > 0) return o / RECORD;
  }
  return -1;
}

/**
 * The record numbers of gensort-layout records (bytes 12..43: the number as
 * 32 hex digits) are exactly 0..count-1, each once: nothing lost, nothing
 * duplicated.
 */
export function recordNumbersAreExactly(data: Buffer, count: number): { ok: boolean; problem?: string } {
  if (data.length !== count * RECORD) return { ok: false, problem: `${data.length / RECORD} records, expected ${count}` };
  const seen = new Uint8Array(count);
  for (let o = 0; o < data.length; o += RECORD) {
    const hex = data.toString('latin1', o + 12, o + 44);
    const n = Number.parseInt(hex, 16);
    if (!/^[0-9A-F]{32}$/.test(hex) || !(n >= 0 && n < count)) return { ok: false, problem: `record ${o / RECORD} has number ${hex}` };
    if (seen[n]++) return { ok: false, problem: `record number ${n} appears twice` };
  }
  return { ok: true };
}

/** The records of a buffer sorted as whole 100-byte strings: equal for two buffers holding the same records in any order. */
export function canonical(data: Buffer): Buffer {
  const records: Buffer[] = [];
  for (let o = 0; o < data.length; o += RECORD) records.push(data.subarray(o, o + RECORD));
  records.sort(Buffer.compare);
  return Buffer.concat(records);
}
