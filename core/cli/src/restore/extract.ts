import { promisify } from "node:util";
import { spawnSync } from "node:child_process";
import { setImmediate } from "node:timers/promises";
import * as fs from "node:fs";
import type { Readable } from "node:stream";
// the light entry points: extract-worker.ts loads this module on a thread of its own
import { ConfigError, errorMessage } from "@sov/core/errors";
import { silentLogger, type Logger } from "@sov/core/log";
import { checkEntryName, PathFilter } from "./entry-name.js";
import { OwnerMap } from "./owners.js";
import { byteString, DeepPaths, displayName, type TarEntry } from "@sov/core/archive";
import { ArchiveReadError, TarReader } from "./tar-reader.js";

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;
const SETID = 0o6000;
/** The longest the extraction keeps the event loop from turning. */
const YIELD_MS = 50;
/** File data is handed to the kernel in batches of about this size (fewer syscalls than one per chunk). */
const WRITE_BATCH = 1 << 20;

export interface ExtractOptions {
  /** Restore only these paths (and what is below them); `*`, `?` and `[...]` are wildcards. */
  filters?: readonly string[];
  /** Restore ownership (chown) and allow the flags below; defaults to "running as root". */
  asRoot?: boolean;
  /** Create character and block device nodes (needs asRoot). */
  allowDevices?: boolean;
  /** Keep setuid/setgid bits on files (needs asRoot). */
  allowSetid?: boolean;
  /** Use the archive's numeric uid/gid even when its user and group names exist here. */
  numericOwner?: boolean;
  /**
   * Cross symlinks that were in TARGET before the restore (never ones the archive made). On by
   * default only for TARGET `/`, where they are the system's own layout (/var/run -> /run).
   */
  trustExistingSymlinks?: boolean;
  log?: Logger;
}

export interface Refusal {
  /** The entry's name as the archive gives it. */
  entry: string;
  reason: string;
}

export interface ExtractReport {
  /** Entries written under TARGET. */
  restored: number;
  /** Entries not restored, or restored without what the archive asked (setuid bits). */
  refused: Refusal[];
  /** Entries in the archive. */
  entries: number;
  /** Entries a partial restore did not select. */
  skipped: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Partial-restore paths that matched nothing. */
  notFound: string[];
  /** Set when reading the archive failed part way (damage, wrong key, truncation): the stage and what it said. */
  error?: string;
}

/**
 * Extracts a plaintext tar stream into `target`, an existing directory, treating the archive as
 * untrusted: nothing is ever written outside `target`.
 *
 * - Names that are absolute, contain `..` or a NUL byte are refused (PAX and GNU long names
 *   included: the reader applies them before the name is checked).
 * - Before anything is created, every directory above it is checked with lstat: a symlink there
 *   (one the archive made a moment ago, a chain of them, or one that replaced a directory) or a
 *   non-directory refuses the entry. The check is cached per directory, and the whole cache is
 *   dropped whenever a directory or a symlink is removed, so it can never vouch for a path that
 *   changed (node-tar's cache-poisoning CVEs).
 * - Files are created with O_CREAT|O_EXCL|O_NOFOLLOW after removing what was in the way (never a
 *   directory with content), so a write never goes through a link; symlinks are created as they
 *   are (they may point anywhere, since nothing is written through them); hard links must name
 *   an entry inside `target` reached without symlinks, and, when `target` had content before,
 *   one this restore created.
 * - Directory modes and times are set at the end, deepest first, on a descriptor opened with
 *   O_NOFOLLOW whose inode must still be the directory created (GNU tar's delayed set).
 * - Device nodes need asRoot and allowDevices, setuid/setgid bits asRoot and allowSetid.
 *
 * A refused entry is reported and the rest still restores. Reading errors (decoder damage, a
 * truncated tar) stop the restore and are returned in `report.error`; what was written stays.
 */
export async function extractArchive(tar: Readable | AsyncIterable<Buffer>, target: string, options: ExtractOptions = {}): Promise<ExtractReport> {
  return extractInto(tar, resolveTarget(target), options);
}

/** TARGET's real path, once it is shown to be an existing directory given as itself, not by a symlink. */
export function resolveTarget(target: string): string {
  const st = fs.lstatSync(target, { throwIfNoEntry: false });
  if (!st) throw new ConfigError(`restore target ${target} does not exist`);
  if (st.isSymbolicLink()) throw new ConfigError(`restore target ${target} is a symlink; give the directory it points to`);
  if (!st.isDirectory()) throw new ConfigError(`restore target ${target} is not a directory`);
  return fs.realpathSync(target);
}

/** extractArchive into `root`, a real path resolveTarget() gave. */
export async function extractInto(tar: Readable | AsyncIterable<Buffer>, root: string, options: ExtractOptions = {}): Promise<ExtractReport> {
  const extractor = new Extractor(root, options);
  const reader = new TarReader(tar);
  try {
    await extractor.run(reader);
  } catch (err) {
    await reader.close();
    if (!(err instanceof ArchiveReadError)) throw err;
    extractor.report.error = err.message;
  } finally {
    await extractor.applyDirectoryAttributes();
    extractor.close();
  }
  return extractor.report;
}

interface DelayedDir {
  rel: string;
  depth: number;
  dev: number;
  ino: number;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
}

type Outcome = "restored" | "refused";

class Extractor {
  readonly report: ExtractReport = { restored: 0, refused: [], entries: 0, skipped: 0, bytes: 0, notFound: [] };
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly filter: PathFilter;
  private readonly asRoot: boolean;
  private readonly keepSetid: boolean;
  private readonly makeDevices: boolean;
  private readonly owners: OwnerMap;
  /** Relative paths checked to be real directories since the cache was last dropped. */
  private readonly dirs = new Set<string>([""]);
  private readonly delayed: DelayedDir[] = [];
  /** When the event loop last turned (see turnDue). */
  private lastTurn = performance.now();
  /** Symlinks that were in TARGET before (for `/`: /var/run -> /run) may be crossed, never the archive's. */
  private readonly followSystemLinks: boolean;
  /** dev:ino of symlinks this run created, when followSystemLinks. */
  private readonly createdLinks = new Set<string>();
  /** dev:ino of everything this run created, when TARGET had content (hard link sources must be in it). */
  private readonly created: Set<string> | null;

  /** TARGET's real path as a byte string (see @sov/core/archive). */
  private readonly root: string;
  /** Paths past PATH_MAX (a tree 2000 directories deep) go through directory descriptors. */
  private readonly paths = new DeepPaths();

  constructor(realRoot: string, options: ExtractOptions) {
    this.root = byteString(realRoot);
    this.prefix = this.root === "/" ? "/" : `${this.root}/`;
    this.log = options.log ?? silentLogger();
    this.filter = new PathFilter(options.filters ?? []);
    this.asRoot = options.asRoot ?? process.getuid?.() === 0;
    this.keepSetid = this.asRoot && !!options.allowSetid;
    this.makeDevices = this.asRoot && !!options.allowDevices;
    this.owners = new OwnerMap(!!options.numericOwner);
    this.followSystemLinks = options.trustExistingSymlinks ?? this.root === "/";
    this.created = fs.readdirSync(realRoot).length > 0 ? new Set() : null;
  }

  async run(reader: TarReader): Promise<void> {
    for (let entry = reader.nextBuffered() ?? (await reader.next()); entry; entry = reader.nextBuffered() ?? (await reader.next())) {
      this.report.entries++;
      if (this.turnDue()) await this.turnLoop();
      const check = checkEntryName(entry.name);
      if (!check.ok) {
        this.refuse(entry, check.reason);
        continue;
      }
      if (this.filter.active && !this.filter.matches(check.path)) {
        this.report.skipped++;
        continue;
      }
      let outcome: Outcome | Promise<Outcome>;
      try {
        outcome = this.extractEntry(entry, check.parts, check.path, reader);
        if (typeof outcome !== "string") outcome = await outcome; // only files' data is awaited
      } catch (err) {
        if (err instanceof ArchiveReadError) throw err;
        outcome = this.refuse(entry, describeFsError(err));
      }
      if (outcome === "restored") this.report.restored++;
    }
    await reader.drain();
    this.report.notFound = this.filter.unmatched();
  }

  private extractEntry(entry: TarEntry, parts: string[], rel: string, reader: TarReader): Outcome | Promise<Outcome> {
    if (entry.type === "unsupported") return this.refuse(entry, entry.unsupported ?? "unsupported entry type");
    if (parts.length === 0) {
      if (entry.type !== "directory") return this.refuse(entry, "empty name");
      // `./`: TARGET itself. Its mode and times are the archive's, as with GNU tar, except for `/`.
      if (this.root !== "/") this.delayDirectory(entry, "", fs.lstatSync(this.path("")));
      return "restored";
    }
    const blocked = this.checkParents(parts, true);
    if (blocked) return this.refuse(entry, blocked);
    switch (entry.type) {
      case "file":
        return this.writeFile(entry, rel, reader);
      case "directory":
        return this.makeDirectory(entry, rel);
      case "symlink":
        return this.makeSymlink(entry, rel);
      case "hardlink":
        return this.makeHardlink(entry, rel);
      case "fifo":
      case "chardev":
      case "blockdev":
        return this.makeSpecial(entry, rel);
    }
  }

  private async writeFile(entry: TarEntry, rel: string, reader: TarReader): Promise<Outcome> {
    const path = this.path(rel);
    const fd = this.openNew(path, rel);
    if (typeof fd === "string") return this.refuse(entry, fd);
    let ok = false;
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      for (let piece = reader.readBuffered(); piece !== null; piece = reader.readBuffered()) {
        if (piece === undefined) {
          piece = await reader.read();
          if (piece === null) break;
        }
        batch.push(piece);
        batched += piece.length;
        if (batched >= WRITE_BATCH || batch.length >= 256) {
          await writeAll(fd, batch, batched);
          batch = [];
          batched = 0;
        }
      }
      if (batched) {
        const writing = writeAll(fd, batch, batched); // most files: synchronous, no promise
        if (writing) await writing;
      }
      this.report.bytes += entry.size;
      if (this.asRoot) fs.fchownSync(fd, this.owners.uid(entry.uname, entry.uid), this.owners.gid(entry.gname, entry.gid));
      const mode = this.fileMode(entry);
      fs.fchmodSync(fd, mode);
      fs.futimesSync(fd, Date.now() / 1000, fsTime(entry.mtime));
      if (this.created) this.created.add(inodeKey(fs.fstatSync(fd)));
      ok = true;
    } finally {
      fs.closeSync(fd);
      if (!ok) {
        try {
          fs.unlinkSync(path); // a partial file must not pass for a restored one
        } catch {
          // already gone
        }
      }
    }
    return "restored";
  }

  private makeDirectory(entry: TarEntry, rel: string): Outcome {
    const path = this.path(rel);
    let st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) {
      if (st.isSymbolicLink() && this.isSystemLink(st) && fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
        // TARGET `/` and the system has e.g. /var/run -> /run: keep it (GNU tar's --keep-directory-symlink).
        this.dirs.add(rel);
        return "restored";
      }
      const blocked = this.removeInTheWay(path, rel, st);
      if (blocked) return this.refuse(entry, blocked);
      st = undefined;
    }
    if (!st) {
      fs.mkdirSync(path, 0o700); // the archive's mode is set at the end, once the contents are in
      st = fs.lstatSync(path);
    }
    this.dirs.add(rel);
    if (this.created) this.created.add(inodeKey(st));
    this.delayDirectory(entry, rel, st);
    return "restored";
  }

  private makeSymlink(entry: TarEntry, rel: string): Outcome {
    if (!entry.linkname) return this.refuse(entry, "symlink with an empty target");
    if (entry.linkname.includes("\0")) return this.refuse(entry, "symlink target contains a NUL byte");
    const path = this.path(rel);
    const made = this.createReplacing(path, rel, () => fs.symlinkSync(Buffer.from(entry.linkname, "latin1"), path));
    if (made) return this.refuse(entry, made);
    if (this.asRoot) fs.lchownSync(path, this.owners.uid(entry.uname, entry.uid), this.owners.gid(entry.gname, entry.gid));
    fs.lutimesSync(path, Date.now() / 1000, fsTime(entry.mtime));
    if (this.followSystemLinks || this.created) {
      const key = inodeKey(fs.lstatSync(path));
      if (this.followSystemLinks) this.createdLinks.add(key);
      this.created?.add(key);
    }
    return "restored";
  }

  private makeHardlink(entry: TarEntry, rel: string): Outcome {
    const source = checkEntryName(entry.linkname);
    if (!source.ok) return this.refuse(entry, `hard link to ${displayName(entry.linkname)}: ${source.reason}`);
    const what = `hard link to ${displayName(source.path)}`;
    if (source.parts.length === 0) return this.refuse(entry, `${what}: the target is TARGET itself`);
    if (source.path === rel) return this.refuse(entry, `${what}: links to itself`);
    const blocked = this.checkParents(source.parts, false);
    if (blocked) return this.refuse(entry, `${what}: ${blocked}`);
    const sourcePath = this.path(source.path);
    const st = fs.lstatSync(sourcePath, { throwIfNoEntry: false });
    if (!st) return this.refuse(entry, `${what}: the target was not restored`);
    if (st.isDirectory()) return this.refuse(entry, `${what}: the target is a directory`);
    if (this.created && !this.created.has(inodeKey(st))) {
      return this.refuse(entry, `${what}: the target was not created by this restore`);
    }
    const path = this.path(rel);
    const existing = fs.lstatSync(path, { throwIfNoEntry: false });
    if (existing && existing.ino === st.ino && existing.dev === st.dev) return "restored";
    // link(2) never follows a symlink at the source, so linking to a symlink entry is safe.
    const made = this.createReplacing(path, rel, () => fs.linkSync(sourcePath, path));
    return made ? this.refuse(entry, made) : "restored";
  }

  private makeSpecial(entry: TarEntry, rel: string): Outcome {
    const kind = entry.type === "fifo" ? "FIFO" : entry.type === "chardev" ? "character device" : "block device";
    if (entry.type !== "fifo" && !this.makeDevices) {
      return this.refuse(entry, `${kind} ${entry.devmajor},${entry.devminor}: device nodes are restored only as root with --allow-devices`);
    }
    const path = this.path(rel);
    const text = displayName(this.prefix + rel);
    if (byteString(text) !== this.prefix + rel) return this.refuse(entry, `${kind}: cannot be created under a name that is not UTF-8`);
    const mode = (entry.mode & 0o1777).toString(8);
    const [command, args]: [string, string[]] =
      entry.type === "fifo"
        ? ["mkfifo", ["-m", mode, "--", text]]
        : ["mknod", ["-m", mode, "--", text, entry.type === "chardev" ? "c" : "b", String(entry.devmajor), String(entry.devminor)]];
    // Node has no mknod(2); the coreutils commands create the node without following links.
    const made = this.createReplacing(path, rel, () => {
      const res = spawnSync(command, args, { encoding: "utf8" });
      if (res.error) throw res.error;
      if (res.status !== 0) {
        const err = new Error(`${command}: ${res.stderr.trim() || `exit ${res.status}`}`) as NodeJS.ErrnoException;
        if (/exists/i.test(res.stderr)) err.code = "EEXIST";
        throw err;
      }
    });
    if (made) return this.refuse(entry, made);
    if (this.asRoot) fs.lchownSync(path, this.owners.uid(entry.uname, entry.uid), this.owners.gid(entry.gname, entry.gid));
    fs.lutimesSync(path, Date.now() / 1000, fsTime(entry.mtime));
    this.created?.add(inodeKey(fs.lstatSync(path)));
    return "restored";
  }

  /**
   * Checks (and with `create`, makes) every directory above `parts`, without following a
   * symlink; returns why not when one is a symlink or not a directory.
   */
  private checkParents(parts: readonly string[], create: boolean): string | null {
    const n = parts.length - 1;
    if (n === 0) return null;
    if (this.dirs.has(n === 1 ? parts[0]! : parts.slice(0, n).join("/"))) return null;
    let rel = "";
    for (let i = 0; i < n; i++) {
      rel = i === 0 ? parts[0]! : `${rel}/${parts[i]!}`;
      if (this.dirs.has(rel)) continue;
      const path = this.path(rel);
      let st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (!st) {
        if (!create) return `${displayName(rel)} does not exist`;
        try {
          fs.mkdirSync(path, 0o777); // like GNU tar: missing parents get the default mode
          this.dirs.add(rel);
          continue;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
          st = fs.lstatSync(path);
        }
      }
      if (st.isDirectory()) {
        this.dirs.add(rel);
        continue;
      }
      if (st.isSymbolicLink()) {
        if (this.isSystemLink(st) && fs.statSync(path, { throwIfNoEntry: false })?.isDirectory()) {
          this.dirs.add(rel);
          continue;
        }
        return `${displayName(rel)} is a symlink; nothing is written through a symlink`;
      }
      return `${displayName(rel)} is not a directory`;
    }
    return null;
  }

  /** A symlink that was in TARGET `/` before this restore (the system's layout), not the archive's. */
  private isSystemLink(st: fs.Stats): boolean {
    return this.followSystemLinks && !this.createdLinks.has(inodeKey(st));
  }

  /**
   * Opens a new file for writing, replacing a file or symlink there; a string says why not.
   * The open is synchronous, like every other metadata call here: a trip through the thread
   * pool per file cost more than the open itself (200,000 small files: 25 s instead of 9 on a
   * fresh ext4, GNU tar 7).
   */
  private openNew(path: fs.PathLike, rel: string): number | string {
    for (let attempt = 0; ; attempt++) {
      try {
        return fs.openSync(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      }
      const st = fs.lstatSync(path, { throwIfNoEntry: false });
      if (st) {
        const blocked = this.removeInTheWay(path, rel, st);
        if (blocked) return blocked;
      }
    }
  }

  /** Runs `create`, and once more after removing what is in the way if the name was taken. */
  private createReplacing(path: fs.PathLike, rel: string, create: () => void): string | null {
    try {
      create();
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const st = fs.lstatSync(path, { throwIfNoEntry: false });
    if (st) {
      const blocked = this.removeInTheWay(path, rel, st);
      if (blocked) return blocked;
    }
    create();
    return null;
  }

  /**
   * Removes what occupies a name an entry needs: a file, a symlink, or an empty directory
   * (GNU tar's default). A directory with content is never removed.
   */
  private removeInTheWay(path: fs.PathLike, rel: string, st: fs.Stats): string | null {
    if (st.isDirectory()) {
      try {
        fs.rmdirSync(path);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOTEMPTY" || code === "EEXIST") return `a directory with content is in the way at ${displayName(rel)}`;
        throw err;
      }
      this.forgetCheckedDirectories();
      return null;
    }
    fs.unlinkSync(path);
    if (st.isSymbolicLink()) this.forgetCheckedDirectories();
    return null;
  }

  private fileMode(entry: TarEntry): number {
    const mode = entry.mode & 0o7777;
    if (mode & SETID && !this.keepSetid) {
      this.refuse(entry, `setuid/setgid bits dropped (mode ${mode.toString(8)} restored as ${(mode & ~SETID).toString(8)}); they are kept only as root with --allow-setid`);
      return mode & ~SETID;
    }
    return mode;
  }

  private delayDirectory(entry: TarEntry, rel: string, st: fs.Stats): void {
    this.delayed.push({
      rel,
      depth: rel === "" ? 0 : rel.split("/").length,
      dev: st.dev,
      ino: st.ino,
      mode: entry.mode & 0o7777,
      mtime: entry.mtime,
      uid: this.asRoot ? this.owners.uid(entry.uname, entry.uid) : entry.uid,
      gid: this.asRoot ? this.owners.gid(entry.gname, entry.gid) : entry.gid,
    });
  }

  /**
   * Sets directories' owners, modes and times after their contents are in, deepest first. Each is
   * opened without following a symlink and must still be the directory this restore made or
   * found; anything else (it was replaced meanwhile) is left alone.
   */
  async applyDirectoryAttributes(): Promise<void> {
    const order = this.delayed.map((d, i) => ({ d, i })).sort((a, b) => b.d.depth - a.d.depth || a.i - b.i);
    for (const { d } of order) {
      if (this.turnDue()) await this.turnLoop();
      let fd: number;
      try {
        fd = fs.openSync(this.path(d.rel), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (err) {
        this.log.debug(`directory ${displayName(d.rel)}: attributes not set: ${errorMessage(err)}`);
        continue;
      }
      try {
        const st = fs.fstatSync(fd);
        if (st.ino !== d.ino || st.dev !== d.dev) continue;
        if (this.asRoot) fs.fchownSync(fd, d.uid, d.gid);
        fs.fchmodSync(fd, d.mode);
        fs.futimesSync(fd, Date.now() / 1000, fsTime(d.mtime));
      } catch (err) {
        this.log.warn(`directory ${displayName(d.rel) || "."}: cannot set owner, mode or time: ${errorMessage(err)}`);
      } finally {
        fs.closeSync(fd);
      }
    }
    this.delayed.length = 0;
  }

  /**
   * Whether the event loop is owed a turn (turnLoop), to let signals, progress and the reading
   * through: YIELD_MS have passed since the last. Every file system call here is synchronous and
   * the reader resolves from buffered data without a turn: a million empty files held it for
   * 29–37 s. Checked first, so an entry that owes none makes no promise.
   */
  private turnDue(): boolean {
    return performance.now() - this.lastTurn >= YIELD_MS;
  }

  private async turnLoop(): Promise<void> {
    await setImmediate();
    this.lastTurn = performance.now();
  }

  /** A name was removed: no directory check, nor a descriptor opened on the way, may vouch for a path now. */
  private forgetCheckedDirectories(): void {
    this.dirs.clear();
    this.dirs.add("");
    this.paths.close();
  }

  close(): void {
    this.paths.close();
  }

  private path(rel: string): string | Buffer {
    return this.paths.access(rel === "" ? this.root : this.prefix + rel);
  }

  private refuse(entry: TarEntry, reason: string): "refused" {
    const name = displayName(entry.name);
    this.report.refused.push({ entry: name, reason });
    this.log.warn(`refused ${name}: ${reason}`);
    return "refused";
  }
}

/**
 * A time for the utimes calls. Node takes a negative number of seconds for "now", so a time
 * before 1970 goes as a Date, which it passes on as is.
 */
function fsTime(seconds: number): number | Date {
  return seconds >= 0 ? seconds : new Date(seconds * 1000);
}

function inodeKey(st: fs.Stats): string {
  return `${st.dev}:${st.ino}`;
}

const writev = promisify(fs.writev);

/** Writes up to this size stay synchronous: small files are most files, and a thread hop costs. */
const SYNC_WRITE_LIMIT = 64 * 1024;

/**
 * Writes a batch; large ones go through the thread pool, so a disk that throttles writeback
 * stalls this file, not the event loop (signals, progress).
 */
function writeAll(fd: number, buffers: Buffer[], total: number): Promise<void> | undefined {
  if (total > SYNC_WRITE_LIMIT) return writev(fd, buffers).then(({ bytesWritten }) => writeRest(fd, buffers, total, bytesWritten));
  writeRest(fd, buffers, total, buffers.length === 1 ? fs.writeSync(fd, buffers[0]!) : fs.writevSync(fd, buffers));
  return undefined;
}

/** After a write of `written` bytes of `buffers`, the rest, if any. */
function writeRest(fd: number, buffers: Buffer[], total: number, written: number): void {
  if (written === total) return;
  // A short write (the disk filled up): write the rest piece by piece, so the error surfaces.
  let skip = written;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    let piece = skip ? b.subarray(skip) : b;
    skip = 0;
    while (piece.length) piece = piece.subarray(fs.writeSync(fd, piece));
  }
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === "object" && e.code && e.syscall) return `${e.syscall} failed: ${e.code}`;
  return errorMessage(err);
}
