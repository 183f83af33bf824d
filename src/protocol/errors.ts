/**
 * The one error catalogue of Braid. Every error that crosses a module or the
 * wire carries a stable string code from this table; the code (not the
 * message) is what callers and tests match on. `retriable` says whether the
 * same request may succeed if sent again (possibly elsewhere).
 */
export const ErrorCodes = {
  // protocol
  PROTOCOL: 'BRAID_ERR_PROTOCOL',
  FRAME_TOO_LARGE: 'BRAID_ERR_FRAME_TOO_LARGE',
  UNKNOWN_MESSAGE: 'BRAID_ERR_UNKNOWN_MESSAGE',
  VERSION_MISMATCH: 'BRAID_ERR_VERSION_MISMATCH',
  ENCODE: 'BRAID_ERR_ENCODE',
  // transport
  CONNECT: 'BRAID_ERR_CONNECT',
  CONNECTION_CLOSED: 'BRAID_ERR_CONNECTION_CLOSED',
  TIMEOUT: 'BRAID_ERR_TIMEOUT',
  HANDSHAKE: 'BRAID_ERR_HANDSHAKE',
  AUTH: 'BRAID_ERR_AUTH',
  PEER_DEAD: 'BRAID_ERR_PEER_DEAD',
  SHUTTING_DOWN: 'BRAID_ERR_SHUTTING_DOWN',
  TOO_MANY_CONNECTIONS: 'BRAID_ERR_TOO_MANY_CONNECTIONS',
  TLS: 'BRAID_ERR_TLS',
  // requests
  INVALID_REQUEST: 'BRAID_ERR_INVALID_REQUEST',
  UNKNOWN_METHOD: 'BRAID_ERR_UNKNOWN_METHOD',
  WRONG_APP: 'BRAID_ERR_WRONG_APP',
  FORBIDDEN: 'BRAID_ERR_FORBIDDEN',
  UNKNOWN_SHUFFLE: 'BRAID_ERR_UNKNOWN_SHUFFLE',
  UNKNOWN_LOCATION: 'BRAID_ERR_UNKNOWN_LOCATION',
  UNKNOWN_STREAM: 'BRAID_ERR_UNKNOWN_STREAM',
  UNKNOWN_FILE: 'BRAID_ERR_UNKNOWN_FILE',
  BAD_CHUNK_INDEX: 'BRAID_ERR_BAD_CHUNK_INDEX',
  LOCATION_COMMITTED: 'BRAID_ERR_LOCATION_COMMITTED',
  RESERVE_FAILED: 'BRAID_ERR_RESERVE_FAILED',
  SLOTS_UNAVAILABLE: 'BRAID_ERR_SLOTS_UNAVAILABLE',
  SERVER_BUSY: 'BRAID_ERR_SERVER_BUSY',
  QUOTA_EXCEEDED: 'BRAID_ERR_QUOTA_EXCEEDED',
  /** A path a request names lies outside what the server is configured to touch. */
  PATH_NOT_ALLOWED: 'BRAID_ERR_PATH_NOT_ALLOWED',
  // master high availability
  NOT_LEADER: 'BRAID_ERR_NOT_LEADER',
  NO_LEADER: 'BRAID_ERR_NO_LEADER',
  MASTER_UNAVAILABLE: 'BRAID_ERR_MASTER_UNAVAILABLE',
  // data path
  REPLICA_FAILED: 'BRAID_ERR_REPLICA_FAILED',
  REPLICA_DEAD: 'BRAID_ERR_REPLICA_DEAD',
  WRITE_FAILED: 'BRAID_ERR_WRITE_FAILED',
  DISK_FULL: 'BRAID_ERR_DISK_FULL',
  READ_FAILED: 'BRAID_ERR_READ_FAILED',
  SORT_FAILED: 'BRAID_ERR_SORT_FAILED',
  CORRUPT_BATCH: 'BRAID_ERR_CORRUPT_BATCH',
  DECOMPRESS: 'BRAID_ERR_DECOMPRESS',
  CHECKSUM_MISMATCH: 'BRAID_ERR_CHECKSUM_MISMATCH',
  DATA_LOST: 'BRAID_ERR_DATA_LOST',
  FETCH_FAILED: 'BRAID_ERR_FETCH_FAILED',
  PUSH_FAILED: 'BRAID_ERR_PUSH_FAILED',
  STAGE_NOT_ENDED: 'BRAID_ERR_STAGE_NOT_ENDED',
  // configuration and user input
  /** An option's value cannot work: a bad address or number, a port in use, a directory the process cannot use. */
  CONFIG: 'BRAID_ERR_CONFIG',
  /** The data a command was given cannot be used: an input that is missing or not records, an output that is not empty. */
  INPUT: 'BRAID_ERR_INPUT',
  INTERNAL: 'BRAID_ERR_INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes));

/** Codes that are retriable unless the thrower says otherwise. */
const RETRIABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.CONNECT,
  ErrorCodes.CONNECTION_CLOSED,
  ErrorCodes.TIMEOUT,
  ErrorCodes.PEER_DEAD,
  ErrorCodes.SERVER_BUSY,
  ErrorCodes.REPLICA_FAILED,
  ErrorCodes.REPLICA_DEAD,
  ErrorCodes.SHUTTING_DOWN,
  ErrorCodes.TOO_MANY_CONNECTIONS,
  ErrorCodes.SLOTS_UNAVAILABLE,
  ErrorCodes.RESERVE_FAILED,
  ErrorCodes.READ_FAILED,
  ErrorCodes.NOT_LEADER,
  ErrorCodes.NO_LEADER,
]);

export interface BraidErrorOptions {
  retriable?: boolean;
  cause?: unknown;
}

export class BraidError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: BraidErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BraidError';
    this.code = code;
    this.retriable = options.retriable ?? RETRIABLE_BY_DEFAULT.has(code);
  }
}

/** Raised by every codec for malformed input; the connection that sent it is closed. */
export class ProtocolError extends BraidError {
  constructor(message: string, code: ErrorCode = ErrorCodes.PROTOCOL) {
    super(code, message, { retriable: false });
    this.name = 'ProtocolError';
  }
}

/** Turns a code that arrived over the wire back into a catalogue code. */
export function toErrorCode(code: string): ErrorCode {
  return KNOWN_CODES.has(code) ? (code as ErrorCode) : ErrorCodes.INTERNAL;
}

export function isBraidError(err: unknown, code?: ErrorCode): err is BraidError {
  return err instanceof BraidError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a BraidError, keeping the original as `cause`. */
export function asBraidError(err: unknown, fallback: ErrorCode = ErrorCodes.INTERNAL): BraidError {
  if (err instanceof BraidError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BraidError(fallback, message, { cause: err });
}
