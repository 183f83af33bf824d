/**
 * ReportShuffleFetchFailure (reducer/engine → LifecycleManager), method 13.
 *
 *   request  := appId:string shuffleId:u32 stageAttemptId:u32 partitionId:u32 error:string
 *   response := status:u8 reSubmitWholeStage:bool message:string
 *
 * status 0 = accepted, 1 = INVALID_REQUEST (another application, or an older
 * stage attempt than the newest reported). reSubmitWholeStage is true once
 * the failures of this stage attempt reach maxFetchFailures.
 */
import { bool, str, struct, u32, u8 } from '../codec.js';
import { defineRpc } from './define.js';

export const FetchFailureStatus = { ACCEPTED: 0, INVALID_REQUEST: 1 } as const;

export const ReportShuffleFetchFailure = defineRpc(
  13,
  'ReportShuffleFetchFailure',
  struct({ appId: str, shuffleId: u32, stageAttemptId: u32, partitionId: u32, error: str }),
  struct({ status: u8, reSubmitWholeStage: bool, message: str }),
);
