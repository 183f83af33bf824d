/**
 * Shared sample data for the protocol tests: one realistic message per frame
 * type, a few edge-case frames, and request/response samples for every
 * control method. Values are chosen to exercise the wire types at their
 * edges (u64 near 2^53, u32 max, multi-byte UTF-8, empty arrays, optional
 * fields both present and absent).
 */
import {
  ALL_MAPS,
  ApplicationHeartbeat,
  ApplicationRemoved,
  BATCH_HEADER_SIZE,
  BatchCodec,
  CommitFiles,
  DestroySlots,
  ErrorCodes,
  ExecutorRemoved,
  GetEssMetrics,
  GetReducerFileGroup,
  GetStatus,
  DecommissionWorker,
  MapperEnd,
  MasterInfo,
  MasterRole,
  MessageType,
  Mode,
  OpenBlocks,
  PAYLOAD_HEADER_SIZE,
  PROTOCOL_VERSION,
  PushStatus,
  RegisterExecutor,
  RegisterShuffle,
  RegisterWorker,
  ReportShuffleFetchFailure,
  RequestSlots,
  ReserveSlots,
  Revive,
  Role,
  UnregisterShuffle,
  WorkerHeartbeat,
  encodeFrame,
  encodeValue,
  locationFileName,
  writeBatchHeader,
  writePayloadHeader,
  type Address,
  type CodecId,
  type Message,
  type RpcMethod,
} from '../../src/protocol/index.js';

// ---------------------------------------------------------------- batches

/** One batch: 16-byte batch header, 9-byte payload header, then `data`. */
export function makeBatch(mapId: number, attemptId: number, batchId: number, data: Buffer, codec: CodecId = BatchCodec.None): Buffer {
  const payloadLength = PAYLOAD_HEADER_SIZE + data.length;
  const buf = Buffer.alloc(BATCH_HEADER_SIZE + payloadLength);
  writeBatchHeader(buf, 0, { mapId, attemptId, batchId, length: payloadLength });
  writePayloadHeader(buf, BATCH_HEADER_SIZE, codec, data.length, data);
  data.copy(buf, BATCH_HEADER_SIZE + PAYLOAD_HEADER_SIZE);
  return buf;
}

/** Deterministic filler bytes, so samples are the same on every run. */
export function pattern(length: number, seed: number): Buffer {
  const buf = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}

function records(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\n'), 'utf8');
}

// ---------------------------------------------------------------- addresses

const worker1: Address = { host: 'worker-1.rack-a.example.internal', port: 9097 };
const worker2: Address = { host: '10.0.3.17', port: 65535 };
const worker3: Address = { host: 'wörker-3.ünïcode.test', port: 1 };

// ---------------------------------------------------------------- frame bodies

const pushBatch = makeBatch(7, 1, 0, records('alpha\t1', 'beta\t2', 'gamma\t3', 'δέλτα\t4'));

const mergedBatches = [
  makeBatch(7, 1, 1, records('k1\tv1', 'k2\tv2')),
  makeBatch(7, 1, 2, pattern(40, 3), BatchCodec.Lz4),
  makeBatch(7, 1, 3, records('ключ\tзначение')),
];
const mergedOffsets: number[] = [];
{
  let at = 0;
  for (const b of mergedBatches) {
    mergedOffsets.push(at);
    at += b.length;
  }
}

// Larger than the others so the split test also covers a multi-KiB frame.
const chunkBody = Buffer.concat([
  makeBatch(0, 0, 0, pattern(1500, 11)),
  makeBatch(1, 2, 0, pattern(1200, 12), BatchCodec.Zstd),
  makeBatch(2, 0, 5, records('x'.repeat(900))),
]);

const registerShuffleRequest = { shuffleId: 3, numMappers: 400, numPartitions: 2 };
const registerShuffleResponse = {
  locations: [
    { partitionId: 0, epoch: 0, primary: worker1, replica: worker2 },
    { partitionId: 1, epoch: 0, primary: worker2, replica: undefined },
  ],
};

// ---------------------------------------------------------------- frames

/** One realistic message of every frame type, in type-id order. */
export const FRAME_SAMPLES: readonly Message[] = [
  { type: MessageType.Handshake, version: PROTOCOL_VERSION, role: Role.Client, appId: 'app-20240611-0007-🔑', nonce: Buffer.alloc(32, 0xa5) },
  { type: MessageType.HandshakeAck, version: PROTOCOL_VERSION, role: Role.Worker, ok: true, code: '', message: '', heartbeatIntervalMs: 30_000, proof: Buffer.alloc(32, 0x3c) },
  { type: MessageType.RpcRequest, requestId: 42, method: RegisterShuffle.id, body: encodeValue(RegisterShuffle.request, registerShuffleRequest) },
  { type: MessageType.RpcResponse, requestId: 42, method: RegisterShuffle.id, body: encodeValue(RegisterShuffle.response, registerShuffleResponse) },
  {
    type: MessageType.RpcFailure,
    requestId: Number.MAX_SAFE_INTEGER,
    code: ErrorCodes.SLOTS_UNAVAILABLE,
    message: 'no healthy worker has a free disk',
    retriable: true,
  },
  { type: MessageType.PushData, requestId: 1001, shuffleKey: 'app-20240611-0007-3', partitionId: 17, epoch: 2, mode: Mode.Primary, body: pushBatch },
  {
    type: MessageType.PushMergedData,
    requestId: 1002,
    shuffleKey: 'app-20240611-0007-3',
    mode: Mode.Replica,
    partitionIds: [3, 9, 3],
    epochs: [0, 1, 0],
    offsets: mergedOffsets,
    body: Buffer.concat(mergedBatches),
  },
  {
    type: MessageType.PushResponse,
    requestId: 1002,
    statuses: Buffer.from([PushStatus.SUCCESS, PushStatus.SOFT_SPLIT, PushStatus.HARD_SPLIT, PushStatus.MAP_ENDED, PushStatus.FAIL_WRITE]),
  },
  {
    type: MessageType.OpenStream,
    requestId: 2 ** 32 + 7,
    shuffleKey: 'app-20240611-0007-3',
    fileName: locationFileName(17, 2, Mode.Primary),
    startMapIndex: 0,
    endMapIndex: ALL_MAPS,
  },
  { type: MessageType.StreamHandle, requestId: 2 ** 32 + 7, streamId: 2 ** 40 + 5, numChunks: 12, totalBytes: 96 * 2 ** 20 + 123 },
  { type: MessageType.ChunkFetchRequest, streamId: 2 ** 40 + 5, chunkIndex: 11 },
  { type: MessageType.ChunkFetchSuccess, streamId: 2 ** 40 + 5, chunkIndex: 11, body: chunkBody },
  {
    type: MessageType.ChunkFetchFailure,
    streamId: 2 ** 40 + 5,
    chunkIndex: 0xffff_ffff,
    code: ErrorCodes.READ_FAILED,
    message: 'EIO: i/o error, read — диск /mnt/disk2 🙁',
    retriable: true,
  },
  { type: MessageType.Heartbeat, pong: false },
  { type: MessageType.HandshakeChallenge, version: PROTOCOL_VERSION, role: Role.Master, auth: true, nonce: Buffer.alloc(32, 0x5a) },
  { type: MessageType.HandshakeProof, proof: Buffer.alloc(32, 0xc3) },
];

/** Edge cases on top of FRAME_SAMPLES: empty bodies, empty strings and arrays, extremes. */
export const EDGE_FRAME_SAMPLES: readonly Message[] = [
  { type: MessageType.Handshake, version: 255, role: Role.Admin, appId: '', nonce: Buffer.alloc(0) },
  {
    type: MessageType.HandshakeAck,
    version: PROTOCOL_VERSION,
    role: Role.Master,
    ok: false,
    code: ErrorCodes.AUTH,
    message: 'authentication failed for «app-9»',
    heartbeatIntervalMs: 0,
    proof: Buffer.alloc(0),
  },
  { type: MessageType.HandshakeChallenge, version: 0, role: 0, auth: false, nonce: Buffer.alloc(0) },
  { type: MessageType.HandshakeProof, proof: Buffer.alloc(0) },
  // A body-carrying frame whose body is empty (GetStatus has an empty request).
  { type: MessageType.RpcRequest, requestId: 0, method: GetStatus.id, body: Buffer.alloc(0) },
  { type: MessageType.PushResponse, requestId: 0, statuses: Buffer.alloc(0) },
  { type: MessageType.PushData, requestId: 1, shuffleKey: 'k', partitionId: 0xffff_ffff, epoch: 0xffff_ffff, mode: Mode.Replica, body: Buffer.alloc(0) },
  {
    type: MessageType.PushMergedData,
    requestId: 2,
    shuffleKey: 'k',
    mode: Mode.Primary,
    partitionIds: [0],
    epochs: [0],
    offsets: [0],
    body: Buffer.from([1]),
  },
  { type: MessageType.Heartbeat, pong: true },
];

/** Prelude + header + body as one Buffer, as a socket would deliver it. */
export function frameBytes(message: Message): Buffer {
  const { head, body } = encodeFrame(message);
  return body === undefined ? head : Buffer.concat([head, body]); // copy: tests want the wire image in one Buffer
}

/** A Buffer over its own ArrayBuffer, so "is this a view of that chunk" can be asserted. */
export function isolated(bytes: Uint8Array): Buffer {
  const buf = Buffer.from(new ArrayBuffer(bytes.length));
  buf.set(bytes);
  return buf;
}

// ---------------------------------------------------------------- control methods

export interface ControlSample {
  method: RpcMethod<unknown, unknown>;
  requests: unknown[];
  responses: unknown[];
}

/** Typed at the call site, erased in the table. */
function control<Q, S>(method: RpcMethod<Q, S>, requests: Q[], responses: S[]): ControlSample {
  return { method, requests, responses };
}

const disks = [
  { path: '/mnt/disk1/braid', totalBytes: 4 * 10 ** 12, freeBytes: 1.5 * 10 ** 12, healthy: true },
  { path: '/données/disque-2', totalBytes: Number.MAX_SAFE_INTEGER, freeBytes: 0, healthy: false },
];

export const CONTROL_SAMPLES: readonly ControlSample[] = [
  control(
    RegisterWorker,
    [
      { address: worker1, disks },
      { address: worker3, disks: [] },
    ],
    [{ heartbeatIntervalMs: 10_000 }, { heartbeatIntervalMs: 0xffff_ffff }],
  ),
  control(
    WorkerHeartbeat,
    [
      { address: worker1, disks, activeShuffleKeys: ['app-1-0', 'app-1-3', 'приложение-7'], shuttingDown: false, essAppIds: ['spark-1', 'приложение'], shuffleSlots: [16, 0, 0xffff_ffff] },
      { address: worker2, disks: [], activeShuffleKeys: [], shuttingDown: true, essAppIds: [], shuffleSlots: [] },
    ],
    [
      { registered: true, expiredShuffleKeys: [], expiredAppIds: [] },
      { registered: false, expiredShuffleKeys: ['app-0-1', '应用-2'], expiredAppIds: ['spark-1'] },
    ],
  ),
  control(
    RequestSlots,
    [
      { appId: 'app-20240611-0007', shuffleId: 3, count: 200, replicate: true, excluded: [worker3] },
      { appId: '', shuffleId: 0, count: 0, replicate: false, excluded: [] },
    ],
    [
      {
        slots: [
          { primary: worker1, replica: worker2 },
          { primary: worker2, replica: undefined },
        ],
        spareWorkers: [worker3],
      },
      { slots: [], spareWorkers: [] },
    ],
  ),
  control(
    ReserveSlots,
    [
      {
        appId: 'app-20240611-0007',
        shuffleId: 3,
        files: [
          { partitionId: 0, epoch: 0, mode: Mode.Primary, peer: worker2 },
          { partitionId: 1, epoch: 4, mode: Mode.Replica, peer: undefined },
        ],
        splitThreshold: 256 * 2 ** 20,
      },
      { appId: 'app', shuffleId: 1, files: [], splitThreshold: 0 },
    ],
    [{}],
  ),
  control(
    CommitFiles,
    [
      {
        appId: 'app-20240611-0007',
        shuffleId: 3,
        files: [
          { partitionId: 0, epoch: 0, mode: Mode.Primary },
          { partitionId: 1, epoch: 4, mode: Mode.Replica },
        ],
        mapAttempts: [0, -1, 2, 0x7fff_ffff, -0x8000_0000],
      },
      { appId: 'app', shuffleId: 1, files: [], mapAttempts: [] },
    ],
    [
      {
        committed: [
          { partitionId: 0, epoch: 0, mode: Mode.Primary, bytes: 17 * 2 ** 20, chunkOffsets: [0, 8 * 2 ** 20, 16 * 2 ** 20], mapIds: [0, 1, 5] },
          { partitionId: 1, epoch: 4, mode: Mode.Replica, bytes: 0, chunkOffsets: [], mapIds: [] },
        ],
        failed: [{ partitionId: 2, epoch: 1, mode: Mode.Primary }],
      },
      { committed: [], failed: [] },
    ],
  ),
  control(
    DestroySlots,
    [
      { appId: 'app-20240611-0007', shuffleId: 3, files: [{ partitionId: 9, epoch: 1, mode: Mode.Replica }] },
      { appId: '', shuffleId: 0, files: [] },
    ],
    [{}],
  ),
  control(RegisterShuffle, [registerShuffleRequest, { shuffleId: 0, numMappers: 0, numPartitions: 0 }], [registerShuffleResponse, { locations: [] }]),
  control(
    Revive,
    [
      {
        shuffleId: 3,
        requests: [
          { partitionId: 17, epoch: 2, mapId: 7, attemptId: 1, cause: PushStatus.HARD_SPLIT },
          { partitionId: 18, epoch: 0, mapId: 7, attemptId: 1, cause: PushStatus.FAIL_REPLICA },
        ],
      },
      { shuffleId: 3, requests: [] },
    ],
    [
      {
        results: [
          { status: PushStatus.SUCCESS, location: { partitionId: 17, epoch: 3, primary: worker3, replica: worker1 } },
          { status: PushStatus.MAP_ENDED, location: undefined },
          { status: PushStatus.FAIL_UNKNOWN_SHUFFLE, location: { partitionId: 18, epoch: 1, primary: worker2, replica: undefined } },
        ],
      },
      { results: [] },
    ],
  ),
  control(
    MapperEnd,
    [
      {
        shuffleId: 3,
        mapId: 7,
        attemptId: 1,
        numMappers: 400,
        partitions: [
          { partitionId: 0, batches: 12, bytes: 3 * 2 ** 30, crc: 0xdead_beef },
          { partitionId: 1, batches: 0, bytes: 0, crc: 0 },
        ],
        epochs: [
          { partitionId: 0, epoch: 0 },
          { partitionId: 0, epoch: 3 },
        ],
      },
      { shuffleId: 3, mapId: 8, attemptId: 0, numMappers: 400, partitions: [], epochs: [] },
    ],
    [
      { winner: true, allMappersEnded: false },
      { winner: false, allMappersEnded: true },
    ],
  ),
  control(
    GetReducerFileGroup,
    [
      { shuffleId: 3, startPartition: 0, endPartition: 2 },
      { shuffleId: 0, startPartition: 0, endPartition: 0 },
    ],
    [
      {
        mapAttempts: [0, 1, -1],
        partitions: [
          {
            partitionId: 0,
            files: [
              { epoch: 0, mode: Mode.Primary, address: worker1, bytes: 17 * 2 ** 20, numChunks: 3 },
              { epoch: 0, mode: Mode.Replica, address: worker2, bytes: 17 * 2 ** 20, numChunks: 2 },
            ],
            expected: [{ mapId: 0, batches: 12, bytes: 2 ** 45, crc: 0xffff_ffff }],
            lost: false,
          },
          { partitionId: 1, files: [], expected: [], lost: true },
        ],
      },
      { mapAttempts: [], partitions: [] },
    ],
  ),
  control(
    UnregisterShuffle,
    [
      { appId: 'アプリ-🚀', shuffleId: 3 },
      { appId: '', shuffleId: 0xffff_ffff },
    ],
    [{}],
  ),
  control(
    ApplicationHeartbeat,
    [
      { appId: 'app-20240611-0007', shuffleIds: [0, 1, 3] },
      { appId: '', shuffleIds: [] },
    ],
    [{}],
  ),
  control(
    ReportShuffleFetchFailure,
    [
      { appId: 'app-20240611-0007', shuffleId: 3, stageAttemptId: 1, partitionId: 17, error: 'FetchFailed: connection reset — ünïcödé ✓' },
      { appId: '', shuffleId: 0, stageAttemptId: 0, partitionId: 0, error: '' },
    ],
    [
      { status: 0, reSubmitWholeStage: false, message: '' },
      { status: 1, reSubmitWholeStage: true, message: 'older stage attempt 0 < 1' },
    ],
  ),
  control(
    GetStatus,
    [{}],
    [{ json: Buffer.from(JSON.stringify({ workers: [worker1, worker3], applications: ['app-Ω'] }), 'utf8') }, { json: Buffer.alloc(0) }],
  ),
  control(
    DecommissionWorker,
    [{}],
    [{ json: Buffer.from(JSON.stringify({ state: 'decommissioning', waitingFor: { what: 'shuffles', shuffles: [{ key: 'app-1-0', files: 8, uncommitted: 0 }] } }), 'utf8') }],
  ),
  control(
    MasterInfo,
    [{}],
    [
      { role: MasterRole.Leader, leader: '10.0.0.1:9097', term: 4711 },
      { role: MasterRole.Candidate, leader: '', term: 0 },
    ],
  ),
  control(
    RegisterExecutor,
    [
      { appId: 'app-20240611-0007', execId: '12', localDirs: ['/mnt/disk1/blockmgr-1', '/données/blockmgr-2'], subDirsPerLocalDir: 64, shuffleManager: 'sort' },
      { appId: '', execId: '', localDirs: [], subDirsPerLocalDir: 0xffff_ffff, shuffleManager: '' },
    ],
    [{}],
  ),
  control(
    OpenBlocks,
    [
      { appId: 'app-20240611-0007', execId: '12', blockIds: ['shuffle_3_7_0', 'shuffle_3_9007199254740991_2147483647'] },
      { appId: '', execId: '', blockIds: [] },
    ],
    [
      { streamId: Number.MAX_SAFE_INTEGER, numChunks: 2 },
      { streamId: 0, numChunks: 0 },
    ],
  ),
  control(
    ApplicationRemoved,
    [
      { appId: 'アプリ-🚀', cleanupLocalDirs: true },
      { appId: '', cleanupLocalDirs: false },
    ],
    [{}],
  ),
  control(
    ExecutorRemoved,
    [
      { appId: 'app-20240611-0007', execId: 'executor-Ω' },
      { appId: '', execId: '' },
    ],
    [{}],
  ),
  control(
    GetEssMetrics,
    [{}],
    [{ json: Buffer.from(JSON.stringify({ registeredExecutors: 3, indexCache: { hits: 1 } }), 'utf8') }, { json: Buffer.alloc(0) }],
  ),
];

// ---------------------------------------------------------------- errors

/** Runs `fn` and returns what it threw (undefined if it returned). */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}
