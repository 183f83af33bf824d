/** Worker storage: partition files, disks, flushing, metadata, map-range sorting, chunk reads. */
export { NOOP_MEMORY, type MemoryTracker } from './memory.js';
export { Flusher, type FlusherOptions } from './flusher.js';
export { DataDir, DataDirs, type DataDirsOptions } from './data-dirs.js';
export {
  PartitionWriter,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_FLUSH_THRESHOLD,
  type PartitionWriterOptions,
  type CommittedFile,
  MAX_OPEN_WRITER_FILES,
  setMaxOpenWriterFiles,
  openWriterFileCount,
} from './partition-writer.js';
export { appDir, shuffleDir, deleteShuffle, deleteApp, checkPathSegment } from './files.js';
export { MetaStore, defaultMetaPath, type CommittedRecord, type CommittedEntry } from './meta-store.js';
export {
  MapRangeSorter,
  sortedPathOf,
  sortedIndexPathOf,
  type MapRangeSorterOptions,
  type SortInput,
} from './sorter/map-range-sorter.js';
export { SortedFile } from './sorter/sorted-file.js';
export { readRange, ChunkReader } from './chunk-reader.js';
