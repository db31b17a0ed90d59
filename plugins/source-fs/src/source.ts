import { isAbsolute, join, relative } from "node:path";
import { Readable } from "node:stream";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { type ArchiveSource, ConfigError, type LeftOutPath, type Logger, RunError, type SelectionDecision, type SourceStats } from "@sov/core";
import { byteString, displayName as display } from "@sov/core/archive";
import { createControl, giveBuffer, requestStop, type WorkerInput, type WorkerMessage } from "./channel.js";
import { type ListFile, readListFile } from "./list-file.js";
import { asList, type FsSourceOptions, memberName, parseSize, resolveRoot } from "./options.js";
import { Selection, type SelectionRules } from "./selection.js";
import type { TarPlan, TarProgress } from "./walker.js";

/** What the stream is cut into: large enough that per-chunk costs vanish, small enough to bound memory. */
export const CHUNK_SIZE = 1 << 20;

/**
 * Chunks the walker may produce ahead of the consumer: enough to keep the disk busy while the
 * consumer works, few enough that memory stays small whatever the data size.
 */
export const CHUNKS_AHEAD = 8;

export interface FsSourceContext {
  readonly log: Logger;
  /** Where a relative `root`, `exclude_from` and `include_from` are resolved from. */
  readonly configDir: string;
  /** sov's own paths, absolute (the run's `leaveOut`): never archived. */
  readonly leaveOut?: readonly LeftOutPath[];
}

/** The source's counters: the core's, and the files `exclude_larger_than` left out. */
export interface FsSourceStats extends SourceStats {
  tooLarge: number;
}

/**
 * The ArchiveSource for the configured paths; checks the options and reads the `exclude_from`
 * and `include_from` files, but touches no source file.
 */
export function createFsSource(options: Readonly<FsSourceOptions>, ctx: FsSourceContext): ArchiveSource & { stats: FsSourceStats } {
  const root = resolveRoot(options.root ?? "/", ctx.configDir);
  const exclude = options.exclude ?? [];
  const excludeFrom = asList(options.exclude_from).map((file) => readListFile("exclude_from", file, ctx.configDir));
  const includeFrom = asList(options.include_from).map((file) => readListFile("include_from", file, ctx.configDir));
  const limit = options.exclude_larger_than;
  const rules: SelectionRules = {
    excludeFrom: excludeFrom.map(({ file, lines }) => ({ file, patterns: lines.map((l) => l.text) })),
    excludeCaches: options.exclude_caches ?? false,
    excludeIfPresent: (options.exclude_if_present ?? []).map(byteString),
    oneFileSystem: options.one_file_system ?? false,
    ...(limit === undefined ? {} : { excludeLargerThan: { bytes: parseSize(limit), text: sizeText(limit) } }),
    leaveOut: leftOutMembers(root, ctx.leaveOut ?? []),
  };
  new Selection(exclude, rules); // a pattern the matcher cannot compile fails now, not mid-backup

  // byte strings from here on: a listed name need not be UTF-8
  const configured = options.paths.map((p) => byteString(memberName(p)));
  const included = includeFrom.map((list) => ({ file: list.file, names: includedNames(list) }));
  const plan: TarPlan = { root: byteString(root === "/" ? "" : root), sources: [...configured, ...included.flatMap((i) => i.names)], exclude, rules };
  const stats: FsSourceStats = { files: 0, bytes: 0, warnings: [], tooLarge: 0 };
  const shown = (name: string) => (root === "/" ? `/${display(name)}` : `${join(root, display(name))} (archived as ${display(name) || "its content"})`);

  let current: WorkerStream | undefined;
  return {
    stats,
    describe: () => [
      ...configured.map(shown),
      ...included.flatMap(({ file, names }) => (names.length > 0 ? names.map((n) => `${shown(n)} (from include_from ${file})`) : [`include_from ${file}: no paths`])),
      ...describeSelection(options, exclude, excludeFrom, rules),
    ],
    open(signal) {
      stats.files = 0;
      stats.bytes = 0;
      stats.tooLarge = 0;
      return (current = new WorkerStream(plan, "tar", signal, {
        progress: (p) => {
          stats.files = p.files;
          stats.bytes = p.bytes;
          stats.tooLarge = p.tooLarge;
        },
        warn: (message) => {
          stats.warnings.push(message);
          ctx.log.warn(message);
        },
        debug: (message) => ctx.log.debug(message),
        end: () => {
          if (stats.tooLarge > 0) {
            ctx.log.info(`left out ${stats.tooLarge} file(s) larger than ${rules.excludeLargerThan?.text} (exclude_larger_than)`);
          }
        },
      }));
    },
    recycle: (chunk) => current?.recycle(chunk),
    preview(signal) {
      // a run would warn about a missing listed path; a dry run says so too, outside stats
      return new WorkerStream(plan, "preview", signal, {
        progress: () => {},
        warn: (message) => ctx.log.warn(message),
        debug: () => {},
        end: () => {},
      }) as AsyncIterable<SelectionDecision>;
    },
  };
}

/** sov's own paths as member names under `root`; those outside it cannot be met by the walk. */
function leftOutMembers(root: string, paths: readonly LeftOutPath[]): Array<{ name: string; why: string }> {
  return paths.flatMap(({ path, why }) => {
    const rel = relative(root, path);
    if (rel === "" || rel === ".." || rel.startsWith("../") || isAbsolute(rel)) return [];
    return [{ name: byteString(rel), why }];
  });
}

/** The limit as configured, for reasons: `2G`, or `1000 bytes` for a plain number. */
function sizeText(limit: string | number): string {
  const text = String(limit).trim();
  return /^\d+$/.test(text) ? `${text} bytes` : text.replace(/\s+/g, "");
}

/** An include_from file's paths as member names (byte strings); a bad line names its file and line. */
function includedNames(list: ListFile): string[] {
  return list.lines.map(({ text, line }) => {
    try {
      return memberName(text);
    } catch (err) {
      throw new ConfigError(`include_from ${list.file}:${line}: ${(err as Error).message.replace(/^source path/, "path")}`);
    }
  });
}

/** What `sov list` and `--dry-run` show of the selection options that are in force. */
function describeSelection(options: Readonly<FsSourceOptions>, exclude: readonly string[], excludeFrom: readonly ListFile[], rules: SelectionRules): string[] {
  const lines: string[] = [];
  if (exclude.length > 0) lines.push(`excluding ${exclude.join(", ")}`);
  for (const { file, lines: patterns } of excludeFrom) {
    lines.push(patterns.length > 0 ? `excluding (exclude_from ${file}) ${patterns.map((p) => display(p.text)).join(", ")}` : `exclude_from ${file}: no patterns`);
  }
  if (lines.length === 0) lines.push("excluding nothing");
  if (rules.excludeCaches) lines.push("exclude_caches: a directory with a valid CACHEDIR.TAG is archived with the tag only");
  const tags = options.exclude_if_present ?? [];
  if (tags.length > 0) lines.push(`exclude_if_present: a directory holding ${tags.join(" or ")} is left out`);
  if (rules.oneFileSystem) lines.push("one_file_system: directories on another filesystem are archived empty");
  const limit = rules.excludeLargerThan;
  if (limit) lines.push(`exclude_larger_than: ${limit.text}${/bytes$/.test(limit.text) ? "" : ` (${limit.bytes} bytes)`}: larger regular files are left out`);
  return lines;
}

interface StreamEvents {
  progress(p: TarProgress): void;
  warn(message: string): void;
  debug(message: string): void;
  /** The walk finished and everything it produced has been queued. */
  end(): void;
}

/**
 * What a worker walk produces, as a stream: the tar archive in chunks (`tar`), or the preview's
 * decisions, one object each (`preview`). The worker runs at most CHUNKS_AHEAD chunks or
 * batches ahead of this stream's consumer: it goes on only with a go-ahead for each one consumed
 * (an empty buffer to fill, for the archive).
 */
class WorkerStream extends Readable {
  private readonly worker: Worker;
  private readonly buffers: MessagePort;
  private readonly control: Int32Array;
  /** What has arrived and is not yet pushed: one entry per chunk or batch, each worth a go-ahead. */
  private readonly queue: unknown[][] = [];
  /** Chunk buffers the consumer gave back, to be filled again. */
  private readonly spare: ArrayBuffer[] = [];
  private pushedOfFirst = 0;
  private consumerWaiting = false;
  private workerDone = false;
  private ended = false;
  private readonly onAbort: () => void;

  constructor(
    plan: TarPlan,
    private readonly mode: WorkerInput["mode"],
    private readonly signal: AbortSignal,
    private readonly events: StreamEvents,
  ) {
    super({ objectMode: mode === "preview" });
    const control = createControl();
    this.control = new Int32Array(control);
    const { port1, port2 } = new MessageChannel();
    this.buffers = port1;
    const input: WorkerInput = { plan, mode, buffers: port2, control };
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: input, transferList: [port2] });
    for (let i = 0; i < CHUNKS_AHEAD; i++) this.goAhead();
    this.worker.on("message", (message: WorkerMessage) => this.onMessage(message));
    this.worker.on("error", (err) => this.destroy(new Error(`the tar walker failed: ${err.message}`, { cause: err })));
    this.worker.on("exit", (code) => {
      if (!this.workerDone) this.destroy(new Error(`the tar walker stopped unexpectedly (exit code ${code})`));
    });
    this.onAbort = () => this.destroy(signal.reason instanceof Error ? signal.reason : new Error("the source was aborted"));
    if (signal.aborted) queueMicrotask(this.onAbort);
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  override _read(): void {
    this.consumerWaiting = true;
    this.pushQueued();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.signal.removeEventListener("abort", this.onAbort);
    this.workerDone = true;
    requestStop(this.control);
    this.buffers.close();
    this.worker.terminate().then(
      () => callback(err),
      () => callback(err),
    );
  }

  private onMessage(message: WorkerMessage): void {
    if (this.destroyed) return;
    switch (message.type) {
      case "chunk":
        this.queue.push([Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength)]);
        this.events.progress(message.progress);
        this.pushQueued();
        break;
      case "decisions":
        this.queue.push(message.batch);
        this.pushQueued();
        break;
      case "warn":
        this.events.warn(message.message);
        break;
      case "debug":
        this.events.debug(message.message);
        break;
      case "end":
        this.workerDone = true;
        if (message.progress) this.events.progress(message.progress);
        this.events.end();
        this.pushQueued();
        break;
      case "fail":
        this.workerDone = true;
        this.destroy(new RunError(message.message));
        break;
    }
  }

  /** A chunk this stream pushed, which its consumer has finished with. */
  recycle(chunk: Buffer): void {
    const buffer = chunk.buffer as ArrayBuffer;
    if (this.destroyed || buffer.byteLength !== CHUNK_SIZE || this.spare.length >= CHUNKS_AHEAD || this.spare.includes(buffer)) return;
    this.spare.push(buffer);
  }

  /**
   * The worker may produce one more chunk or batch. Chunk buffers are allocated here, not in
   * the worker, and come back here when the consumer recycles them: a backup then reuses the
   * same few buffers instead of allocating (and collecting) one per MiB read.
   */
  private goAhead(): void {
    if (this.mode === "preview") return giveBuffer(this.buffers, this.control, null);
    const spare = this.spare.pop();
    giveBuffer(this.buffers, this.control, spare ? Buffer.from(spare) : Buffer.allocUnsafeSlow(CHUNK_SIZE));
  }

  private pushQueued(): void {
    while (this.consumerWaiting && this.queue.length > 0) {
      const first = this.queue[0]!;
      const item = first[this.pushedOfFirst++];
      if (this.pushedOfFirst === first.length) {
        this.queue.shift();
        this.pushedOfFirst = 0;
        this.goAhead();
      }
      this.consumerWaiting = this.push(item);
    }
    if (this.workerDone && this.queue.length === 0 && !this.ended && !this.destroyed) {
      this.ended = true;
      this.push(null);
    }
  }
}
