/**
 * The data side of Braid's demo jobs (TeraSort and WordCount): record
 * formats, generators, partitioners and validators. Pure: files at most,
 * never sockets.
 */
export {
  RECORD_SIZE,
  KEY_SIZE,
  VALUE_SIZE,
  generateRecords,
  recordKey,
  recordSlice,
  writeGensortFile,
  readRecordFile,
  type ReadRecordFileOptions,
} from './gensort.js';
export { KeyRangePartitioner } from './range-partitioner.js';
export { RecordChecksum, type RecordChecksumJSON } from './checksum.js';
export {
  sortRecords,
  OrderValidator,
  validatePartitionSequence,
  type OrderResult,
  type PartitionSequenceReport,
} from './sort-validate.js';
export {
  VOCABULARY,
  VOCABULARY_SIZE,
  generateText,
  countWords,
  mergeCounts,
  totalCount,
  fnv1a32,
  wordPartition,
  encodeCounts,
  encodeCountsByPartition,
  decodeCounts,
} from './words.js';
