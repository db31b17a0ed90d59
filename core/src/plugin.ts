import type { Duplex, Readable, Transform, Writable } from "node:stream";
import type { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook } from "tapable";
import type { Logger } from "./log.js";
import type { ArchiveStore, ByteRange } from "./storage.js";

/**
 * The six hook points. A run calls `source`, `compress`, `encrypt` and `destination` while the
 * chain is built (before the lock), then, in a real run, `preHook` (after the lock; the config's
 * pre_hook script is its first tap) and last `prune` (after every destination committed; the
 * core's retention is its first tap). See core/PLUGINS.md.
 */
export type Stage = "preHook" | "source" | "compress" | "encrypt" | "destination" | "prune";

/** What every stage hook is told about the run. */
export interface RunInfo {
  readonly host: string;
  readonly startedAt: Date;
  readonly dryRun: boolean;
  /** When this run took the lock (absent in a dry run and with `--once`). */
  readonly lockedAt?: Date;
  /** Aborted on SIGINT/SIGTERM/SIGHUP or when the pipeline fails; long work should stop when it fires. */
  readonly signal: AbortSignal;
  /**
   * Absolute paths a source must not archive, nor descend into: every destination's directory
   * on this host, the lock, the state, log and metrics files. A source that can should leave
   * them out and give `why` as the reason in its preview. Absent when there are none.
   */
  readonly leaveOut?: readonly LeftOutPath[];
}

/** A path of sov's own that no source may archive, and why (`a sov destination`). */
export interface LeftOutPath {
  readonly path: string;
  readonly why: string;
}

/** Counters a source keeps while it streams; the core prints them in the run summary. */
export interface SourceStats {
  files: number;
  bytes: number;
  warnings: string[];
}

/** One path a source looked at for `sov run --dry-run --verbose`: in, or out and why. */
export interface SelectionDecision {
  /** As it would be named in the archive (`etc/nginx/nginx.conf`). */
  readonly path: string;
  readonly included: boolean;
  /** Why it is left out (`matches exclude pattern *.pyc`, `holds CACHEDIR.TAG`, ...). */
  readonly reason?: string;
}

/** The `source` stage's product: a tar stream of the configured paths, entries relative to `/`. */
export interface ArchiveSource {
  /** Lines for `sov list` and `--dry-run`. */
  describe(): string[];
  /**
   * Walks the selection without reading file contents, for `--dry-run --verbose`. Optional; an
   * excluded directory is reported once and not descended into.
   */
  preview?(signal: AbortSignal): AsyncIterable<SelectionDecision>;
  /** Starts reading. The stream must end only after a well-formed tar end-of-archive. */
  open(signal: AbortSignal): Readable;
  /**
   * Takes back a chunk of the stream open() returned, once the core has copied its bytes on, so
   * the source can fill it again instead of allocating another. Optional; the core calls it at
   * most once per chunk, and never touches the chunk afterwards.
   */
  recycle?(chunk: Buffer): void;
  readonly stats: SourceStats;
}

/** The `compress` stage's product. */
export interface Compressor {
  /** The archive name's compression suffix: `zst` gives `.tar.zst.age`. */
  readonly extension: string;
  describe(): string[];
  createCompressStream(): Transform;
  /**
   * Optional: compression one independent frame at a time, for seekable archives. The core then
   * cuts the stream into frames at entry boundaries every few MiB of tar and ends it with an
   * index in a skippable frame (magic 0x184D2A5E). Only for formats whose stock decoders read
   * concatenated frames and skip that one (zstd, lz4).
   */
  createFrameCompressor?(): FrameCompressor;
}

/**
 * Compressed output in stream order: bytes, and `null` where a frame ends (after its last bytes).
 * A compressor that keeps several frames in flight returns each frame's output once it is ready.
 */
export type FrameOutput = Array<Buffer | null>;

/**
 * Writes a compressed stream as a series of frames that each decode on their own. Every call
 * resolves to the output that is ready by then, so frames may be compressed in parallel; the
 * core counts each frame's bytes up to its `null` for the index.
 */
export interface FrameCompressor {
  /** Adds input to the current frame. The caller may reuse `input` once the promise resolves. */
  write(input: Buffer): Promise<FrameOutput>;
  /** Ends the current frame; the next write starts a new one. Its end may come in a later call's output. */
  endFrame(): Promise<FrameOutput>;
  /** After the last endFrame: everything still to come, up to the last frame's end. */
  finish(): Promise<FrameOutput>;
  /** Frees what the compressor holds (threads, buffers); called once, after finish() or on failure. */
  dispose(): void;
}

/** The `encrypt` stage's product. No plaintext leaves the host, so exactly one is required. */
export interface Encryptor {
  /** The archive name's last suffix: `age`. */
  readonly extension: string;
  describe(): string[];
  createEncryptStream(): Promise<Transform>;
}

/** An archive as a destination holds it. */
export interface ArchiveRef {
  /** The configured destination name (`local`, `usb`, ...). */
  readonly destination: string;
  /** The file name: `sovereign-backup-<host>-<YYYYMMDD-HHMMSS>.tar.zst.age`. */
  readonly name: string;
  /** Where a person finds it (an absolute path, an sftp:// address). */
  readonly location: string;
  readonly size: number;
  /** For stores with `features.objectLock`: until when the archive cannot be removed (prune skips it). */
  readonly lockedUntil?: Date;
}

/**
 * A write that is invisible until the core commits it. The core writes the whole encrypted
 * stream to `writable`, then calls `commit()` only if every stage ended cleanly, and `abort()`
 * otherwise. After `abort()` nothing may remain under the final name.
 */
export interface StagedWrite {
  readonly writable: Writable;
  /**
   * Makes the archive visible under its final name (or a fresh `-N` name if that one is taken).
   * `meta.sha256` is the ciphertext's checksum; a destination that can should keep it beside
   * the archive (`<name>.sha256`, sha256sum format) for `sov verify --storage`.
   */
  commit(meta?: ArchiveMeta): Promise<ArchiveRef>;
  abort(): Promise<void>;
}

/** Facts the core knows about an archive when it commits it. */
export interface ArchiveMeta {
  /** Lower-case hex SHA-256 of the archive's bytes (the ciphertext). */
  readonly sha256: string;
  /** The bytes the core wrote; a destination's stored size must equal it. */
  readonly size?: number;
}

/**
 * The 0.1 `destination` product, and what the core hands the run, prune taps and restore: for an
 * `ArchiveStore` the core's staging implements it. Deprecated for plugins: add an `ArchiveStore`.
 */
export interface Destination {
  /** The configured name, used by `--target` and in logs. */
  readonly name: string;
  describe(): string[];
  /** Gets the destination ready (creates a directory, mounts a stick). */
  open(): Promise<void>;
  stage(archiveName: string): Promise<StagedWrite>;
  /** Every archive the destination holds, any host; the core filters and sorts. */
  list(): Promise<ArchiveRef[]>;
  remove(archive: ArchiveRef): Promise<void>;
  /** Opens an archive for reading (restore, verify). */
  read(archive: ArchiveRef): Readable;
  /**
   * Reads part of an archive: what a restore of a few files from a seekable archive fetches.
   * The core's staging provides it for every `ArchiveStore`; a 0.1 destination has none, and
   * restore reads its archives whole.
   */
  readRange?(archive: ArchiveRef, range: ByteRange): Readable;
  /** The checksum kept beside an archive at commit, or null if there is none. Optional. */
  readChecksum?(archive: ArchiveRef): Promise<string | null>;
  /** Always called once after `open()`, also when the run failed (unmounts what was mounted). */
  close(): Promise<void>;
}

export interface DestinationCollector {
  /** An `ArchiveStore` (the storage contract), or a 0.1 `Destination` (deprecated, still checked). */
  add(destination: ArchiveStore | Destination): void;
}

/** What the `prune` hook is told: only destinations that committed this run's archive. */
export interface PruneInfo {
  readonly run: RunInfo;
  readonly committed: ReadonlyArray<{ destination: Destination; archive: ArchiveRef }>;
  /** Archives removed so far by earlier prune taps (the core's retention tap runs first). */
  readonly pruned: ArchiveRef[];
}

/** The hook points, one typed tapable hook each; see core/PLUGINS.md for when each runs. */
export interface StageHooks {
  readonly preHook: AsyncSeriesHook<[RunInfo]>;
  readonly source: AsyncSeriesBailHook<[RunInfo], ArchiveSource | undefined>;
  readonly compress: AsyncSeriesBailHook<[RunInfo], Compressor | undefined>;
  readonly encrypt: AsyncSeriesBailHook<[RunInfo], Encryptor | undefined>;
  readonly destination: AsyncParallelHook<[DestinationCollector, RunInfo]>;
  readonly prune: AsyncSeriesHook<[PruneInfo]>;
}

/** What a plugin may use besides its options. */
export interface PluginContext {
  /** The instance name: the plugin's name, or the destination name for destinations. */
  readonly instance: string;
  readonly host: string;
  /** Directory of the config file, for resolving relative paths in options. */
  readonly configDir: string;
  readonly log: Logger;
  /**
   * The run's environment (`SOVEREIGN_BACKUP_*` settings): read this, not process.env. sov
   * always sets it; it is optional only so a context made by hand in a test may leave it out.
   */
  readonly env?: Readonly<NodeJS.ProcessEnv>;
}

/** What restore asks of a plugin that reverses a stage (decompress, decrypt). */
export interface DecodeContext {
  /** The age identity file, for decryptors; read only when decrypting, never logged. */
  readonly identityFile?: string;
  readonly log: Logger;
  /**
   * The stream carries a whole archive, start to end (a restore or a verify), not a few frames
   * of one: a decoder may spend a thread on it.
   */
  readonly whole?: boolean;
}

/** Bytes readable at any offset: an archive where it lies, or a decrypted view of one. */
export interface RangeReader {
  /** Length in bytes. */
  readonly size: number;
  /** Exactly the bytes [start, end) (end <= size); anything else is an error. */
  read(start: number, end: number): Promise<Buffer>;
}

export interface ArchiveDecoder {
  /** The archive name suffix this decoder reverses (`zst`, `age`). */
  readonly extension: string;
  /** A Transform, or any Duplex that reads like one (compressed in, plain out). */
  createDecodeStream(ctx: DecodeContext): Promise<Duplex>;
  /**
   * Encrypt decoders, optional: the plaintext of `ciphertext` as a RangeReader that reads and
   * authenticates only the parts asked for, so a restore of one file from a seekable archive
   * reads a few MiB of it. Without it, restore reads such archives whole.
   */
  openRange?(ciphertext: RangeReader, ctx: DecodeContext): Promise<RangeReader>;
}

/** A JSON schema for a plugin's options, checked by ajv before `apply()`. */
export type OptionsSchema = Record<string, unknown>;

/**
 * A stage plugin. `apply()` is synchronous and only taps hooks; all I/O happens inside the taps.
 */
export interface SovPlugin<O = Record<string, unknown>> {
  /** The tap name, shown in logs and errors: by convention the npm package name. */
  readonly name: string;
  readonly stage: Exclude<Stage, "preHook" | "prune">;
  readonly optionsSchema: OptionsSchema;
  apply(hooks: StageHooks, options: Readonly<O>, ctx: PluginContext): void;
  /** For compress and encrypt plugins: how restore reverses this stage. */
  readonly decoder?: ArchiveDecoder;
}

/** Identity helper that lets TypeScript check a plugin object against the contract. */
export function definePlugin<O>(plugin: SovPlugin<O>): SovPlugin<O> {
  return plugin;
}
