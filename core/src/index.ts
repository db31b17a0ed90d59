/**
 * @sov/core's public API: the plugin contract, the hook points, the staged-write interface and
 * the helpers a plugin may build on. Plugins import only from here.
 */
export type {
  ArchiveDecoder,
  ArchiveMeta,
  ArchiveRef,
  ArchiveSource,
  Compressor,
  DecodeContext,
  Destination,
  DestinationCollector,
  Encryptor,
  FrameCompressor,
  FrameOutput,
  LeftOutPath,
  OptionsSchema,
  PluginContext,
  PruneInfo,
  RangeReader,
  RunInfo,
  SelectionDecision,
  SourceStats,
  SovPlugin,
  Stage,
  StagedWrite,
  StageHooks,
} from "./plugin.js";
export { definePlugin } from "./plugin.js";
export type { ArchiveStore, ByteRange, IncompleteUpload, ObjectUpload, ObjectWrite, StoredObject, StoreFeatures } from "./storage.js";
export { NameTakenError } from "./storage.js";
export { ConfigError, ExitCode, LockHeldError, RunError, SovError, errorMessage } from "./errors.js";
export type { Logger } from "./log.js";
export { createLogger, silentLogger } from "./log.js";
export { ContractViolation, DirectoryStore, StagedStore, syncDirectory, type StagingOptions } from "./staging/index.js";
export { archiveName, compareArchiveNames, formatStamp, parseArchiveName, type ParsedArchiveName } from "./archive-name.js";
export { checkTrustedFile, checkTrustedDirectory } from "./trusted-path.js";
export { checkSecretFile } from "./secret-file.js";
export { createStageHooks, PluginHookError } from "./hooks.js";
export { loadConfig, parseConfigText, shortHostname, V01_DEFAULT_LOCAL, type SovConfig, type DestinationBlock, type PluginBlock, type RetentionPolicy } from "./config/load.js";
export { describeRun, runBackup, type RunOptions, type RunResult, type DestinationOutcome } from "./run.js";
export { createArchiveCompressStream, FRAME_TARGET, SeekableCompressStream } from "./seekable.js";
export { buildChain, configuredDestinations, selectDestinations, type Chain, type ChainDestination } from "./chain.js";
export { BUILTIN_PLUGINS, loadDecoder, loadPlugin } from "./loader.js";
export { resolvePluginsBeside } from "./resolve-package.js";
export { formatBytes } from "./format.js";
