/** External shuffle service mode: executors' own map outputs, served by the worker. */
export { BlockHandler, MAX_BLOCK_BYTES, defaultEssStorePath, type BlockHandlerOptions, type BlockStreams, type EssMetrics } from './block-handler.js';
export { registerExecutor, fetchBlocks, type FetchBlocksOptions } from './block-client.js';
export { writeMapOutput, encodeIndex } from './map-output-writer.js';
export { ACCEPTED_SHUFFLE_MANAGERS, ExecutorRegistry, validateExecutorInfo, type ExecutorShuffleInfo } from './executor-registry.js';
export { LocalDirRoots } from './local-dir-roots.js';
export { IndexCache, ShuffleIndex, loadIndex, indexEntryWeight } from './index-cache.js';
export { javaStringHash, nonNegativeHash, resolveFile, dataFileName, indexFileName, subDirName, isShuffleFile, type DirLayout } from './file-resolver.js';
export { parseBlockId, formatBlockId, type ShuffleBlockId } from './block-id.js';
