import { FetchFailureStatus } from '../../protocol/index.js';

export interface FetchFailureReport {
  appId: string;
  shuffleId: number;
  /** Attempt of the reading stage that hit the failure. */
  stageAttemptId: number;
  partitionId: number;
  error: string;
}

export interface FetchFailureAnswer {
  /** FetchFailureStatus.ACCEPTED or FetchFailureStatus.INVALID_REQUEST. */
  status: number;
  reSubmitWholeStage: boolean;
  message: string;
}

export interface FetchFailureDecision {
  answer: FetchFailureAnswer;
  /** True exactly once per (shuffle, stage attempt): when the count first reaches the limit. */
  firstResubmit: boolean;
}

/** Fetch failures of one shuffle, for the newest stage attempt seen. */
interface ShuffleFailures {
  stageAttemptId: number;
  perPartition: Map<number, number>;
  resubmitted: boolean;
}

/**
 * Counts reducers' fetch failures per shuffle, per (stage attempt, partition),
 * and decides when the whole map stage must run again. Reports from another
 * application or from a stage attempt older than the newest one seen are
 * invalid; a newer stage attempt starts counting from zero.
 */
export class FetchFailureTracker {
  private readonly shuffles = new Map<number, ShuffleFailures>();

  constructor(
    private readonly appId: string,
    private readonly maxFetchFailures: number,
  ) {}

  report(r: FetchFailureReport): FetchFailureDecision {
    if (r.appId !== this.appId) {
      return invalid(`fetch failure report from application "${r.appId}" rejected: this lifecycle manager serves "${this.appId}"`);
    }
    let s = this.shuffles.get(r.shuffleId);
    if (s === undefined) {
      s = { stageAttemptId: r.stageAttemptId, perPartition: new Map(), resubmitted: false };
      this.shuffles.set(r.shuffleId, s);
    } else if (r.stageAttemptId < s.stageAttemptId) {
      return invalid(
        `fetch failure report from an older stage attempt (${r.stageAttemptId}) than the newest seen (${s.stageAttemptId}) of shuffle ${r.shuffleId}`,
      );
    } else if (r.stageAttemptId > s.stageAttemptId) {
      s.stageAttemptId = r.stageAttemptId;
      s.perPartition.clear();
      s.resubmitted = false;
    }
    const count = (s.perPartition.get(r.partitionId) ?? 0) + 1;
    s.perPartition.set(r.partitionId, count);
    if (count < this.maxFetchFailures) {
      return {
        answer: {
          status: FetchFailureStatus.ACCEPTED,
          reSubmitWholeStage: false,
          message: `fetch failure ${count} of ${this.maxFetchFailures} for partition ${r.partitionId} of shuffle ${r.shuffleId}`,
        },
        firstResubmit: false,
      };
    }
    const firstResubmit = !s.resubmitted;
    s.resubmitted = true;
    return {
      answer: {
        status: FetchFailureStatus.ACCEPTED,
        reSubmitWholeStage: true,
        message: `partition ${r.partitionId} of shuffle ${r.shuffleId} reached ${count} fetch failures (max ${this.maxFetchFailures}): re-submit the map stage`,
      },
      firstResubmit,
    };
  }

  forget(shuffleId: number): void {
    this.shuffles.delete(shuffleId);
  }
}

function invalid(message: string): FetchFailureDecision {
  return { answer: { status: FetchFailureStatus.INVALID_REQUEST, reSubmitWholeStage: false, message }, firstResubmit: false };
}
