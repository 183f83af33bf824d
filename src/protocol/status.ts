/**
 * Per-batch push status codes, as they travel in a PushResponse (one u8 per
 * batch). This is the only table of numeric wire statuses.
 *
 *   0 SUCCESS              data taken
 *   1 SOFT_SPLIT           data taken; the partition should move to a new epoch soon
 *   2 HARD_SPLIT           data NOT taken; move to a new epoch now and resend
 *   3 MAP_ENDED            this map already has a winning attempt; drop the data
 *   16.. failures          data NOT taken; the client revives and resends
 */
export const PushStatus = {
  SUCCESS: 0,
  SOFT_SPLIT: 1,
  HARD_SPLIT: 2,
  MAP_ENDED: 3,
  FAIL_UNKNOWN_SHUFFLE: 16,
  FAIL_UNKNOWN_LOCATION: 17,
  FAIL_LOCATION_COMMITTED: 18,
  FAIL_REPLICA: 19,
  FAIL_WRITE: 20,
  FAIL_CORRUPT: 21,
  FAIL_SHUTTING_DOWN: 22,
  FAIL_WRONG_APP: 23,
  /** Client side only: the request failed (timeout, lost connection) before any status came back. */
  FAIL_CONNECTION: 24,
  /** The connection's role may not push in this mode (tasks push to primaries, primaries to replicas). */
  FAIL_FORBIDDEN: 25,
  /** The application holds its byte quota on this worker (quotaAppBytes); the client revives elsewhere. */
  FAIL_QUOTA: 26,
} as const;

export type PushStatusCode = (typeof PushStatus)[keyof typeof PushStatus];

const NAMES = new Map<number, string>(Object.entries(PushStatus).map(([k, v]) => [v, k]));

export function pushStatusName(status: number): string {
  return NAMES.get(status) ?? `UNKNOWN(${status})`;
}

/** True when the worker kept the batch (it must not be sent again). */
export function pushAccepted(status: number): boolean {
  return status === PushStatus.SUCCESS || status === PushStatus.SOFT_SPLIT;
}

export function isPushFailure(status: number): boolean {
  return status >= 16;
}
