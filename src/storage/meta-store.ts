/**
 * Committed-file metadata, persisted so a restarted worker can serve the
 * files it committed before (DESIGN.md section 1). LevelDB via classic-level,
 * JSON values, one entry per committed file:
 *
 *   key   := "c" NUL appId NUL shuffleId(decimal) NUL fileName
 *   value := CommittedRecord as JSON
 *
 * appId and fileName never contain NUL (they are path components, see
 * files.ts), so all entries of an app sort between "c\0<appId>\0" and
 * "c\0<appId>\x01", and those of a shuffle between "c\0<appId>\0<id>\0" and
 * "...\x01": deleting an app or a shuffle is one range delete.
 */
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { BraidError, ErrorCodes } from '../protocol/errors.js';
import { checkPathSegment } from './files.js';

export interface CommittedRecord {
  path: string;
  bytes: number;
  chunkOffsets: number[];
  mapIds: number[];
  mapAttempts?: number[];
}

export interface CommittedEntry {
  appId: string;
  shuffleId: number;
  fileName: string;
  record: CommittedRecord;
}

const SEP = '\u0000';
const END = '\u0001';
const PREFIX = 'c' + SEP;

/** The store's default location: a dot-directory of the first data directory. */
export function defaultMetaPath(firstDataDir: string): string {
  return join(firstDataDir, '.braid-meta');
}

export class MetaStore {
  private readonly db: ClassicLevel<string, CommittedRecord>;

  private constructor(db: ClassicLevel<string, CommittedRecord>) {
    this.db = db;
  }

  static async open(path: string): Promise<MetaStore> {
    const db = new ClassicLevel<string, CommittedRecord>(path, { valueEncoding: 'json' });
    try {
      await db.open();
    } catch (err) {
      throw new BraidError(ErrorCodes.INTERNAL, `cannot open metadata store at ${path}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return new MetaStore(db);
  }

  async putCommitted(appId: string, shuffleId: number, fileName: string, record: CommittedRecord): Promise<void> {
    checkPathSegment(fileName, 'fileName');
    await this.db.put(appPrefix(appId) + shuffleKeyPart(shuffleId) + fileName, record);
  }

  async deleteShuffle(appId: string, shuffleId: number): Promise<void> {
    const prefix = appPrefix(appId) + shuffleKeyPart(shuffleId);
    await this.db.clear({ gte: prefix, lt: prefix.substring(0, prefix.length - 1) + END });
  }

  async deleteApp(appId: string): Promise<void> {
    const prefix = appPrefix(appId);
    await this.db.clear({ gte: prefix, lt: prefix.substring(0, prefix.length - 1) + END });
  }

  async loadAll(): Promise<CommittedEntry[]> {
    const out: CommittedEntry[] = [];
    for await (const [key, record] of this.db.iterator({ gte: PREFIX, lt: 'c' + END })) {
      const [, appId, shuffleId, fileName] = key.split(SEP);
      out.push({ appId, shuffleId: Number(shuffleId), fileName, record });
    }
    return out;
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

function appPrefix(appId: string): string {
  return PREFIX + checkPathSegment(appId, 'appId') + SEP;
}

function shuffleKeyPart(shuffleId: number): string {
  if (!Number.isInteger(shuffleId) || shuffleId < 0) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `shuffleId ${shuffleId} is not a non-negative integer`);
  }
  return String(shuffleId) + SEP;
}
