/**
 * The synchronous half of the source: walks the source paths, reads every file and lays the
 * tar stream out in large chunks. It runs inside a worker thread (see worker.ts), where blocking
 * calls are what make it fast: one async fs round trip per small file costs more than the read.
 *
 * The walk itself (`SelectionWalk`) is shared with the preview, which makes the same walk and
 * the same decisions (selection.ts) but reads no file content and writes no archive.
 *
 * Paths and member names are byte strings (latin1, one char per byte) so names that are not
 * UTF-8 are archived exactly as they are on disk.
 */
import { closeSync, constants, type Dirent, fstatSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type Stats } from "node:fs";
import {
  BLOCK_SIZE, DeepPaths, displayName as display, encodePaxHeader, type EntryHeader, type EntryType, type IdNames, loadIdNames, MAX_MEMBER_DEPTH, paxRecordsFor,
  writeUstarHeader,
} from "@sov/core/archive";
import { type DirectoryVerdict, type Exclusion, PATTERN, Selection, type SelectionRules, SOCKET } from "./selection.js";

export interface TarPlan {
  /** The directory member names are relative to, as a byte string without a trailing slash ("" is `/`). */
  readonly root: string;
  /** Member names of the source paths, byte strings; "" stands for the root's whole content. */
  readonly sources: readonly string[];
  /** GNU-tar-style exclusion patterns (see exclude.ts), as configured (UTF-8). */
  readonly exclude: readonly string[];
  /** The other selection options; none apply when absent. */
  readonly rules?: SelectionRules;
}

export interface TarProgress {
  /** Entries archived that are not directories. */
  files: number;
  /** Content bytes of regular files, as declared in their headers. */
  bytes: number;
  /** Regular files left out by `exclude_larger_than`. */
  tooLarge: number;
}

/** Where the walk's messages go; every call happens on the walker's thread, in walk order. */
export interface WalkLog {
  warn(message: string): void;
  debug(message: string): void;
}

/** Where the walker's output goes; every call happens on the walker's thread, in stream order. */
export interface TarSink extends WalkLog {
  /** A buffer for the next chunk (its length is the chunk size); may block until one is free. */
  allocate(): Uint8Array;
  /** A full chunk (or the last one). The walker never touches `data` again, so it may be transferred. */
  chunk(data: Uint8Array, progress: TarProgress): void;
  /** Test seam: runs after a regular file's header is written, before its content is read. */
  beforeContent?(path: string): void;
}

/** None of the source paths exists as something that can be archived. */
export class NoValidSourceError extends Error {
  constructor(root: string) {
    super(`no valid source path under ${display(root || "/")}: every configured path is missing or a symlink`);
    this.name = "NoValidSourceError";
  }
}

/** Writes the whole archive, end-of-archive blocks included, into `sink`. */
export function writeTar(plan: TarPlan, sink: TarSink, ids: IdNames = loadIdNames()): TarProgress {
  return new TarWalker(plan, sink, ids).run();
}

/** One entry the preview met: its member name (directories with a trailing `/`), and why it is out. */
export interface PreviewDecision {
  path: string;
  included: boolean;
  reason?: string;
}

export interface PreviewSink extends WalkLog {
  /** A batch of decisions, in walk order; may block until the consumer wants more. */
  decisions(batch: PreviewDecision[]): void;
}

/** Decisions handed over at once: few messages for a large tree, small enough to show progress. */
export const PREVIEW_BATCH = 2000;

/** Makes the archive's walk and reports each decision instead of archiving; reads no file content. */
export function previewSelection(plan: TarPlan, sink: PreviewSink): void {
  new PreviewWalker(plan, sink).run();
}

/** A directory whose entries would be deeper than restore accepts: the run fails rather than leave them out. */
export class TooDeepError extends Error {
  constructor(path: string) {
    // the path is thousands of bytes long: its start and end are what a person can use
    const shown = path.length > 400 ? `${display(path.slice(0, 200))}...${display(path.slice(-150))} (${path.length} bytes)` : display(path);
    super(
      `${shown}: its entries are more than ${MAX_MEMBER_DEPTH} directory levels deep, more than restore accepts; ` +
        "exclude it (exclude: [PATTERN]) or move it, and run again",
    );
    this.name = "TooDeepError";
  }
}

/** Whether entries of directory `name` would be past the depth limit; counted only when the name is long enough to be. */
function isTooDeep(name: string): boolean {
  if (name.length < 2 * MAX_MEMBER_DEPTH - 1) return false;
  let depth = 1;
  for (let i = name.indexOf("/"); i !== -1; i = name.indexOf("/", i + 1)) depth++;
  return depth >= MAX_MEMBER_DEPTH;
}

/** O_NONBLOCK: a file swapped for a FIFO since the directory was read must not hang the walk. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

/**
 * The walk over the source paths, and every decision about what is left out (through
 * `Selection`). Subclasses say what happens to what is kept, and to what is not.
 */
abstract class SelectionWalk {
  protected readonly selection: Selection;
  /** Paths past PATH_MAX are reached through directory descriptors; closed when the walk ends. */
  protected readonly paths = new DeepPaths();

  constructor(
    protected readonly plan: TarPlan,
    protected readonly log: WalkLog,
  ) {
    this.selection = new Selection(plan.exclude, plan.rules);
  }

  /** A regular file that no name rule excludes; `st` when the walk has one (not for most files). */
  protected abstract file(path: string, name: string, st: Stats | undefined): void;
  /** A directory that is kept, before its content. */
  protected abstract directory(name: string, st: Stats): void;
  protected abstract symlink(path: string, name: string, st: Stats): void;
  protected abstract special(name: string, st: Stats, type: "fifo" | "chardev" | "blockdev"): void;
  /** An entry left out; `kind` tells a directory when the walk knows it. Nothing below it is walked. */
  protected abstract excluded(path: string, name: string, kind: Dirent | Stats | undefined, exclusion: Exclusion): void;

  protected walk(): void {
    try {
      const sources = this.validSources();
      if (sources.length === 0) throw new NoValidSourceError(this.plan.root);
      for (const { name, st } of sources) {
        if (name === "") this.visitRoot(st);
        else this.visit(this.pathOf(name), name, undefined, undefined);
      }
    } finally {
      this.paths.close();
    }
  }

  /** An entry that cannot be read: warned about and skipped. */
  protected unreadable(path: string, _name: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") this.log.warn(`${display(path)}: vanished before it was read; skipped`);
    else if (code === "ELOOP") this.log.warn(`${display(path)}: changed while read (now a symlink); skipped`);
    else if (code) this.log.warn(`${display(path)}: cannot read (${errnoText(err)}); skipped`);
    else throw err;
  }

  /** The sources that exist and are not symlinks, without those inside another source. */
  private validSources(): Array<{ name: string; st: Stats }> {
    const valid: Array<{ name: string; st: Stats }> = [];
    for (const name of this.plan.sources) {
      const path = name === "" ? this.plan.root || "/" : this.pathOf(name);
      let st: Stats;
      try {
        st = lstatSync(this.paths.access(path));
      } catch (err) {
        this.log.warn(`${display(path)}: ${errnoText(err)}; skipped`);
        continue;
      }
      if (st.isSymbolicLink()) {
        this.log.warn(`${display(path)}: is a symlink; skipped (list the path it points to instead)`);
        continue;
      }
      valid.push({ name, st });
    }
    // in the configured order, each member once: drop repeats and paths inside another source
    const inside = (name: string, outer: string) => outer === "" || name.startsWith(`${outer}/`);
    return valid.filter(
      ({ name }, i) => valid.findIndex((v) => v.name === name) === i && !valid.some(({ name: outer }) => outer !== name && inside(name, outer)),
    );
  }

  private pathOf(name: string): string {
    return `${this.plan.root}/${name}`;
  }

  /**
   * One entry; `dirent` saves an lstat for regular files, the bulk of any tree. `parentDev` is
   * the device of the directory it was listed in (none for a listed path).
   */
  private visit(path: string, name: string, dirent: Dirent | undefined, parentDev: number | undefined): void {
    if (this.selection.excludedByPattern(name)) return this.excluded(path, name, dirent, PATTERN);
    const sov = this.selection.sovPath(name);
    if (sov) return this.excluded(path, name, dirent, sov);
    if (dirent?.isFile()) return this.file(path, name, undefined);
    let st: Stats;
    try {
      st = lstatSync(this.paths.access(path));
    } catch (err) {
      return this.unreadable(path, name, err);
    }
    if (st.isFile()) this.file(path, name, st);
    else if (st.isDirectory()) this.visitDirectory(path, name, st, parentDev);
    else if (st.isSymbolicLink()) this.symlink(path, name, st);
    else if (st.isFIFO()) this.special(name, st, "fifo");
    else if (st.isCharacterDevice()) this.special(name, st, "chardev");
    else if (st.isBlockDevice()) this.special(name, st, "blockdev");
    else {
      this.log.debug(`${display(path)}: a socket or other special file; not archived`);
      this.excluded(path, name, st, SOCKET);
    }
  }

  /** The entry is kept only once the listing is in hand, so an unreadable directory leaves no trace. */
  private visitDirectory(path: string, name: string, st: Stats, parentDev: number | undefined): void {
    const entries = this.list(path, name);
    if (!entries) return;
    const verdict = this.judge(path, name, entries, st, parentDev);
    if (verdict?.leaves === "all") return this.excluded(path, name, st, verdict.exclusion);
    if (entries.length > 0 && isTooDeep(name)) throw new TooDeepError(path);
    this.directory(name, st);
    this.visitEntries(path, `${name}/`, entries, st.dev, verdict);
  }

  /** The root's content for a source of `/`: its children without an entry for the root itself. */
  private visitRoot(st: Stats): void {
    const path = this.plan.root || "/";
    const entries = this.list(path, "");
    if (!entries) return;
    const verdict = this.judge(path, "", entries, st, undefined);
    if (verdict?.leaves === "all") return this.excluded(path, "", st, verdict.exclusion);
    this.visitEntries(this.plan.root, "", entries, st.dev, verdict);
  }

  private judge(path: string, name: string, entries: readonly Dirent[], st: Stats, parentDev: number | undefined): DirectoryVerdict | undefined {
    const verdict = this.selection.judgeDirectory(path, entries, st, parentDev, (p) => this.paths.access(p));
    if (verdict) {
      const what = verdict.leaves === "all" ? "not archived" : verdict.keep ? `content but ${verdict.keep} not archived` : "content not archived";
      this.log.debug(`${display(path)}: ${this.selection.reason(name, verdict.exclusion)}; ${what}`);
    }
    return verdict;
  }

  /** Sorted, so the same tree always gives the same archive. */
  private list(path: string, name: string): Dirent[] | undefined {
    let entries: Dirent[];
    try {
      entries = readdirSync(this.paths.access(path), { withFileTypes: true, encoding: "latin1" });
    } catch (err) {
      this.unreadable(path, name, err);
      return undefined;
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** A directory's entries; in a `contents` directory, all but the kept one are left out unseen. */
  private visitEntries(dirPath: string, prefix: string, entries: Dirent[], dev: number, verdict: DirectoryVerdict | undefined): void {
    for (const entry of entries) {
      const path = `${dirPath}/${entry.name}`;
      if (verdict && entry.name !== verdict.keep) this.excluded(path, `${prefix}${entry.name}`, entry, verdict.exclusion);
      else this.visit(path, `${prefix}${entry.name}`, entry, dev);
    }
  }
}

class TarWalker extends SelectionWalk {
  private readonly out: ChunkWriter;
  /** `dev:ino` of every archived file with more than one link, to the member name it was archived as. */
  private readonly linkTargets = new Map<string, string>();
  private readonly progress: TarProgress = { files: 0, bytes: 0, tooLarge: 0 };

  constructor(
    plan: TarPlan,
    private readonly sink: TarSink,
    private readonly ids: IdNames,
  ) {
    super(plan, sink);
    this.out = new ChunkWriter(
      () => sink.allocate(),
      (chunk) => sink.chunk(chunk, { ...this.progress }),
    );
  }

  run(): TarProgress {
    this.walk();
    this.out.end();
    return { ...this.progress };
  }

  /** Opened first, described from fstat: the header always matches what was opened. */
  protected file(path: string, name: string): void {
    let fd: number;
    try {
      fd = openSync(this.paths.access(path), OPEN_FLAGS);
    } catch (err) {
      return this.unreadable(path, name, err);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return this.sink.warn(`${display(path)}: changed while read (no longer a regular file); skipped`);
      if (this.selection.tooLarge(st.size)) return this.excluded(path, name, st, { kind: "size", size: st.size });
      if (st.nlink > 1 && this.archivedAsHardlink(name, st, () => fstatSync(fd, { bigint: true }))) return;
      this.out.writeHeader(this.entry(st, name, "file", st.size));
      this.sink.beforeContent?.(path);
      const copy = this.out.copyFile(fd, st.size);
      this.progress.files++;
      this.progress.bytes += st.size;
      if (copy.error) {
        this.sink.warn(`${display(path)}: read failed after ${copy.copied} of ${st.size} bytes (${errnoText(copy.error)}); the rest is zero-filled`);
      } else if (copy.copied < st.size) {
        this.sink.warn(`${display(path)}: changed while read (shrank to ${copy.copied} of ${st.size} bytes); the rest is zero-filled`);
      } else if (copy.grew) {
        this.sink.warn(`${display(path)}: changed while read (grew past ${st.size} bytes); archived the first ${st.size} bytes`);
      }
    } finally {
      closeSync(fd);
    }
  }

  protected directory(name: string, st: Stats): void {
    this.out.writeHeader(this.entry(st, `${name}/`, "directory"));
  }

  /** Left out deliberately: silent, but for files too large, which are counted and logged at debug level. */
  protected excluded(path: string, name: string, _kind: unknown, exclusion: Exclusion): void {
    if (exclusion.kind !== "size") return;
    this.progress.tooLarge++;
    this.sink.debug(`${display(path)}: ${this.selection.reason(name, exclusion)}; not archived`);
  }

  protected symlink(path: string, name: string, st: Stats): void {
    let target: string;
    try {
      target = readlinkSync(this.paths.access(path), { encoding: "latin1" });
    } catch (err) {
      return this.unreadable(path, name, err);
    }
    if (st.nlink > 1 && this.archivedAsHardlink(name, st, () => lstatSync(this.paths.access(path), { bigint: true }))) return;
    this.out.writeHeader(this.entry(st, name, "symlink", 0, target));
    this.progress.files++;
  }

  /** FIFOs and device nodes: a header, never their content. */
  protected special(name: string, st: Stats, type: "fifo" | "chardev" | "blockdev"): void {
    const entry = this.entry(st, name, type);
    if (type !== "fifo") {
      entry.devmajor = major(st.rdev);
      entry.devminor = minor(st.rdev);
    }
    this.out.writeHeader(entry);
    this.progress.files++;
  }

  /**
   * A second occurrence of a multiply-linked inode becomes a hardlink entry to the first. Inode
   * numbers past 2^53 (overlayfs, some network filesystems) are re-read as bigints so two files
   * never share a key by rounding.
   */
  private archivedAsHardlink(name: string, st: Stats, exactStat: () => { dev: bigint; ino: bigint }): boolean {
    const exact = st.ino > Number.MAX_SAFE_INTEGER || st.dev > Number.MAX_SAFE_INTEGER ? exactStat() : st;
    const key = `${exact.dev}:${exact.ino}`;
    const first = this.linkTargets.get(key);
    if (first === undefined) {
      this.linkTargets.set(key, name);
      return false;
    }
    this.out.writeHeader(this.entry(st, name, "hardlink", 0, first));
    this.progress.files++;
    return true;
  }

  private entry(st: Stats, name: string, type: EntryType, size = 0, linkname?: string): EntryHeader {
    return {
      name,
      type,
      size,
      linkname,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: Math.floor(st.mtimeMs / 1000),
      uname: this.ids.user(st.uid),
      gname: this.ids.group(st.gid),
    };
  }
}

/**
 * The same walk, reporting what the archive would hold. Files are not opened, and stat'ed only
 * when `exclude_larger_than` needs their size; a file the archive would then fail to open
 * shows as included here.
 */
class PreviewWalker extends SelectionWalk {
  private batch: PreviewDecision[] = [];

  constructor(
    plan: TarPlan,
    private readonly sink: PreviewSink,
  ) {
    super(plan, sink);
  }

  run(): void {
    this.walk();
    if (this.batch.length > 0) this.sink.decisions(this.batch);
  }

  protected file(path: string, name: string, st: Stats | undefined): void {
    if (this.selection.limitsSize) {
      try {
        st ??= lstatSync(this.paths.access(path));
      } catch (err) {
        return this.unreadable(path, name, err);
      }
      if (this.selection.tooLarge(st.size)) return this.excluded(path, name, st, { kind: "size", size: st.size });
    }
    this.decide(name, true);
  }

  protected directory(name: string, _st: Stats): void {
    this.decide(`${name}/`, true);
  }

  protected symlink(_path: string, name: string): void {
    this.decide(name, true);
  }

  protected special(name: string): void {
    this.decide(name, true);
  }

  protected excluded(path: string, name: string, kind: Dirent | Stats | undefined, exclusion: Exclusion): void {
    if (!kind) {
      try {
        kind = lstatSync(this.paths.access(path)); // a listed path excluded by name: only to show whether it is a directory
      } catch {
        // shown without the slash
      }
    }
    const shown = name === "" ? "./" : kind?.isDirectory() ? `${name}/` : name; // "": the root's content
    this.decide(shown, false, this.selection.reason(name, exclusion));
  }

  /** Not archived either, so shown with the reason; a run would warn about it. */
  protected override unreadable(_path: string, name: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code;
    if (!code) throw err;
    this.decide(name || "./", false, code === "ENOENT" ? "vanished" : `cannot read (${errnoText(err)})`);
  }

  private decide(name: string, included: boolean, reason?: string): void {
    const path = display(name);
    this.batch.push(reason === undefined ? { path, included } : { path, included, reason });
    if (this.batch.length >= PREVIEW_BATCH) {
      this.sink.decisions(this.batch);
      this.batch = [];
    }
  }
}

export interface FileCopy {
  /** Bytes that came from the file; the rest of the declared size was zero-filled. */
  copied: number;
  /** The file had more bytes than its header declares; they were left out. */
  grew: boolean;
  error?: unknown;
}

/**
 * Lays the stream out in chunks and hands each one over when it is full. File content is read
 * straight into the chunk: no copy between the kernel and the consumer, since chunks travel to
 * the main thread by transfer. Chunks may come uninitialised, so padding is written explicitly.
 */
export class ChunkWriter {
  private chunk: Uint8Array | undefined;
  private pos = 0;

  constructor(
    private readonly allocate: () => Uint8Array,
    private readonly flush: (chunk: Uint8Array) => void,
  ) {}

  write(bytes: Uint8Array): void {
    for (let from = 0; from < bytes.length; ) {
      const chunk = this.current();
      const n = Math.min(bytes.length - from, chunk.length - this.pos);
      chunk.set(bytes.subarray(from, from + n), this.pos);
      from += n;
      this.advance(n);
    }
  }

  /** The entry's header blocks. Everything written is whole blocks, so the ustar block fits the chunk. */
  writeHeader(entry: EntryHeader): void {
    const records = paxRecordsFor(entry);
    if (records) this.write(encodePaxHeader(entry, records));
    writeUstarHeader(this.current(), this.pos, entry);
    this.advance(BLOCK_SIZE);
  }

  /** `length` zero bytes. */
  pad(length: number): void {
    while (length > 0) {
      const chunk = this.current();
      const n = Math.min(length, chunk.length - this.pos);
      chunk.fill(0, this.pos, this.pos + n);
      length -= n;
      this.advance(n);
    }
  }

  /**
   * Copies exactly `size` bytes of an open file, padded to a block, whatever the file does
   * meanwhile: the header already promised `size`. Missing bytes become zeros, extra ones are
   * left out. The last read asks for one byte more than remains, which proves the end of file
   * without another syscall (or shows that the file grew); that byte is overwritten later.
   */
  copyFile(fd: number, size: number, read: typeof readSync = readSync): FileCopy {
    let remaining = size;
    let grew = false;
    let error: unknown;
    for (let atEnd = false; !atEnd && !grew; ) {
      const chunk = this.current();
      const space = chunk.length - this.pos;
      const want = Math.min(remaining, space);
      const probing = want === remaining && want < space;
      let n: number;
      try {
        n = read(fd, chunk, this.pos, probing ? want + 1 : want, null);
      } catch (err) {
        error = err;
        break;
      }
      grew = n > remaining;
      atEnd = n === 0 || (probing && n === remaining);
      const used = Math.min(n, remaining);
      this.advance(used);
      remaining -= used;
    }
    this.pad(remaining + (-size & (BLOCK_SIZE - 1)));
    return { copied: size - remaining, grew, ...(error === undefined ? {} : { error }) };
  }

  /** The end-of-archive marker, two zero blocks, and the last partial chunk. */
  end(): void {
    this.pad(2 * BLOCK_SIZE);
    if (this.chunk && this.pos > 0) this.flush(this.chunk.subarray(0, this.pos));
    this.chunk = undefined;
    this.pos = 0;
  }

  private current(): Uint8Array {
    if (!this.chunk) {
      this.chunk = this.allocate();
      if (this.chunk.length === 0 || this.chunk.length % BLOCK_SIZE !== 0) throw new RangeError("chunk buffers must be whole 512-byte blocks");
    }
    return this.chunk;
  }

  private advance(n: number): void {
    this.pos += n;
    if (this.pos === this.chunk!.length) {
      this.flush(this.chunk!);
      this.chunk = undefined;
      this.pos = 0;
    }
  }
}

/** glibc's gnu_dev_major / gnu_dev_minor on a 64-bit dev_t held in a double. */
function major(rdev: number): number {
  return Number(((BigInt(rdev) >> 8n) & 0xfffn) | ((BigInt(rdev) >> 32n) & ~0xfffn));
}

function minor(rdev: number): number {
  return Number((BigInt(rdev) & 0xffn) | ((BigInt(rdev) >> 12n) & ~0xffn));
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === "ENOENT") return "no such file or directory";
  return e.code ?? (err instanceof Error ? err.message : String(err));
}
