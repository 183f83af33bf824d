/**
 * Shuffle block ids as reducers name them: "shuffle_<shuffleId>_<mapId>_<reduceId>",
 * decimal without leading zeros. shuffleId and reduceId are Java ints; mapId
 * is a Java long in recent Spark (the map task's attempt id), limited here to
 * what a double holds exactly.
 */
import { BraidError, ErrorCodes } from '../protocol/index.js';

export interface ShuffleBlockId {
  readonly shuffleId: number;
  readonly mapId: number;
  readonly reduceId: number;
}

const BLOCK_ID = /^shuffle_(0|[1-9]\d{0,15})_(0|[1-9]\d{0,15})_(0|[1-9]\d{0,15})$/;
const INT_MAX = 0x7fff_ffff;

export function parseBlockId(id: string): ShuffleBlockId {
  const m = BLOCK_ID.exec(id);
  const shuffleId = Number(m?.[1]);
  const mapId = Number(m?.[2]);
  const reduceId = Number(m?.[3]);
  if (m === null || shuffleId > INT_MAX || reduceId > INT_MAX || !Number.isSafeInteger(mapId)) {
    throw new BraidError(ErrorCodes.INVALID_REQUEST, `bad block id ${JSON.stringify(id.length > 100 ? id.substring(0, 100) + '…' : id)}: expected shuffle_<shuffleId>_<mapId>_<reduceId>`);
  }
  return { shuffleId, mapId, reduceId };
}

export function formatBlockId(b: ShuffleBlockId): string {
  return `shuffle_${b.shuffleId}_${b.mapId}_${b.reduceId}`;
}
