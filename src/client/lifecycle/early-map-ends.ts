import { BraidError, ErrorCodes, type PartitionSum } from '../../protocol/index.js';
import { MapOutputs, type MapperEndOutcome, type StageResult } from './shuffle-state.js';

/**
 * Map ends of shuffles that no push has registered yet. A shuffle is
 * registered by its first push, so a map with no records (an empty input
 * split, a filter that kept nothing) may end before any other map has
 * pushed, or the whole stage may push nothing. Such ends are recorded here
 * and handed to the shuffle when it registers; when every map has ended
 * without one push, the stage has ended with no data and readers get no
 * files.
 */
export class EarlyMapEnds {
  private readonly byShuffle = new Map<number, MapOutputs>();

  /** Records the end of a map attempt that pushed nothing to a shuffle not registered yet. */
  record(shuffleId: number, mapId: number, attemptId: number, numMappers: number, partitions: readonly PartitionSum[]): MapperEndOutcome {
    // A map that pushed data registered the shuffle before its first push: data for an unknown shuffle is not ours.
    if (partitions.some((p) => p.batches > 0)) {
      throw new BraidError(ErrorCodes.UNKNOWN_SHUFFLE, `shuffle ${shuffleId} is not registered, yet map ${mapId} attempt ${attemptId} reports pushed data`);
    }
    if (numMappers < 1 || mapId >= numMappers) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `mapId ${mapId} is out of range for shuffle ${shuffleId} with ${numMappers} mappers`);
    }
    let outputs = this.byShuffle.get(shuffleId);
    if (outputs === undefined) this.byShuffle.set(shuffleId, (outputs = new MapOutputs(numMappers)));
    else if (outputs.numMappers !== numMappers) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `shuffle ${shuffleId} has ${outputs.numMappers} mappers, MapperEnd says ${numMappers}`);
    }
    const outcome = outputs.record(mapId, attemptId, []);
    if (outcome.stageEnded) {
      const result: StageResult = { shuffleId, mapAttempts: Array.from(outputs.winners), partitions: [] };
      outputs.result.resolve(result);
    }
    return outcome;
  }

  /** The outputs recorded for a shuffle being registered now (forgotten here), if any. */
  take(shuffleId: number, numMappers: number): MapOutputs | undefined {
    const outputs = this.byShuffle.get(shuffleId);
    if (outputs === undefined) return undefined;
    if (outputs.numMappers !== numMappers) {
      throw new BraidError(ErrorCodes.INVALID_REQUEST, `shuffle ${shuffleId} had map ends for ${outputs.numMappers} mappers, not ${numMappers}`);
    }
    this.byShuffle.delete(shuffleId);
    return outputs;
  }

  /** Gives back what `take` handed to a registration that failed. */
  restore(shuffleId: number, outputs: MapOutputs): void {
    if (!this.byShuffle.has(shuffleId)) this.byShuffle.set(shuffleId, outputs);
  }

  get(shuffleId: number): MapOutputs | undefined {
    return this.byShuffle.get(shuffleId);
  }

  /** Forgets a shuffle; its waiters get `err`. */
  forget(shuffleId: number, err: BraidError): void {
    this.byShuffle.get(shuffleId)?.result.reject(err);
    this.byShuffle.delete(shuffleId);
  }

  /** Fails every waiter (the manager is closing). */
  clear(err: BraidError): void {
    for (const outputs of this.byShuffle.values()) outputs.result.reject(err);
    this.byShuffle.clear();
  }
}
