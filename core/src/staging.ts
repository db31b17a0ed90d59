import { constants as fsc } from "node:fs";
import { link, lstat, mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { Writable, type Readable } from "node:stream";
import { archiveName, parseArchiveName, withSequence } from "./archive-name.js";
import type { ArchiveMeta, ArchiveRef, StagedWrite } from "./plugin.js";
import type { Logger } from "./log.js";
import { isProcessAlive } from "./process-info.js";

/** Temporary names end in `.<pid>.tmp`, never in `.age`, so no listing ever shows them. */
const TMP_RE = /^(sovereign-backup-.+\.age(?:\.sha256)?)\.(\d+)\.tmp$/;
export const CHECKSUM_SUFFIX = ".sha256";

/**
 * An archive directory on a local filesystem (a plain directory, a mounted stick): the one
 * place that knows how an archive becomes visible. Write to a temporary name, check the
 * length, fsync, close, link to the final name (which fails rather than overwrite), drop the
 * temporary name, fsync the directory.
 */
export class DirectoryStore {
  constructor(
    readonly dir: string,
    readonly destination: string,
    private readonly log: Logger,
  ) {}

  /** Creates the directory 0700 if missing and removes temporary files of runs that died. */
  async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    if (!st.isDirectory()) throw new Error(`${this.dir} is not a directory`);
    if (st.mode & 0o077) {
      this.log.warn(`${this.dir} is readable by others (mode ${(st.mode & 0o777).toString(8)}); archives are 0600 but 0700 is advised`);
    }
    await this.removeAbandoned();
  }

  /** Temporary files whose writer is gone (kill -9, power loss) are removed, never listed. */
  async removeAbandoned(): Promise<string[]> {
    const removed: string[] = [];
    for (const entry of await readdir(this.dir)) {
      const m = TMP_RE.exec(entry);
      if (!m) continue;
      const pid = Number(m[2]);
      if (pid === process.pid || isProcessAlive(pid)) continue;
      await unlink(join(this.dir, entry)).catch(() => {});
      removed.push(entry);
      this.log.warn(`removed ${entry}, left by an interrupted run`);
    }
    return removed;
  }

  async stage(name: string): Promise<StagedWrite> {
    if (!parseArchiveName(name)) throw new Error(`refusing to stage ${name}: not an archive name`);
    const tmpPath = join(this.dir, `${name}.${process.pid}.tmp`);
    const handle = await open(tmpPath, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    return new StagedFile(this, handle, tmpPath, name, this.log);
  }

  async list(): Promise<ArchiveRef[]> {
    const refs: ArchiveRef[] = [];
    for (const entry of await readdir(this.dir)) {
      if (!parseArchiveName(entry)) continue;
      const st = await lstat(join(this.dir, entry)).catch(() => null);
      if (!st?.isFile()) continue;
      refs.push({ destination: this.destination, name: entry, location: join(this.dir, entry), size: st.size });
    }
    return refs;
  }

  async remove(archive: ArchiveRef): Promise<void> {
    if (!parseArchiveName(archive.name)) throw new Error(`refusing to remove ${archive.name}: not an archive name`);
    await unlink(join(this.dir, archive.name));
    await unlink(join(this.dir, `${archive.name}${CHECKSUM_SUFFIX}`)).catch(() => {});
    await syncDirectory(this.dir);
  }

  /** The `.sha256` sidecar written at commit, in `sha256sum` format. */
  async readChecksum(archive: ArchiveRef): Promise<string | null> {
    try {
      const text = await readFile(join(this.dir, `${archive.name}${CHECKSUM_SUFFIX}`), "utf8");
      return /^([0-9a-f]{64}) /.exec(text)?.[1] ?? null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  /** Writes the sidecar atomically; `sha256sum -c` in the directory checks the archive. */
  async writeChecksum(name: string, sha256: string): Promise<void> {
    const path = join(this.dir, `${name}${CHECKSUM_SUFFIX}`);
    const tmp = `${path}.${process.pid}.tmp`;
    const handle = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
    try {
      await handle.writeFile(`${sha256}  ${name}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  }

  read(archive: ArchiveRef): Readable {
    return createReadStream(join(this.dir, archive.name));
  }

  /** Links `tmpPath` to `name`, or to `name-N` when taken; returns the name it got. */
  async publish(tmpPath: string, name: string): Promise<string> {
    for (let sequence = 0; sequence < 1000; sequence++) {
      const candidate = sequence === 0 ? name : withSequence(name, sequence);
      const finalPath = join(this.dir, candidate);
      try {
        await link(tmpPath, finalPath);
        await unlink(tmpPath);
        return candidate;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST") continue;
        if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw err;
        // Filesystems without hard links (vfat, exfat): rename, after checking the name is free.
        // The run lock keeps other sov runs out of this window.
        if (await exists(finalPath)) continue;
        await rename(tmpPath, finalPath);
        return candidate;
      }
    }
    throw new Error(`no free archive name for ${name} in ${this.dir}`);
  }
}

class StagedFile implements StagedWrite {
  readonly writable: FileWritable;
  private settled = false;

  constructor(
    private readonly store: DirectoryStore,
    private readonly handle: FileHandle,
    private readonly tmpPath: string,
    private readonly name: string,
    private readonly log: Logger,
  ) {
    this.writable = new FileWritable(handle);
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    if (this.settled) throw new Error(`${this.name} was already committed or aborted`);
    this.settled = true;
    try {
      if (!this.writable.writableFinished) throw new Error("commit before the stream finished");
      await this.handle.sync();
      const { size } = await this.handle.stat();
      if (size !== this.writable.bytesWritten) {
        throw new Error(`${this.tmpPath} holds ${size} bytes, ${this.writable.bytesWritten} were written`);
      }
      await this.handle.close();
      const finalName = await this.store.publish(this.tmpPath, this.name);
      if (meta) await this.store.writeChecksum(finalName, meta.sha256);
      await syncDirectory(this.store.dir);
      if (finalName !== this.name) this.log.warn(`${this.name} exists already; wrote ${finalName}`);
      return { destination: this.store.destination, name: finalName, location: join(this.store.dir, finalName), size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.discard();
  }

  private async discard(): Promise<void> {
    this.writable.destroy();
    await this.handle.close().catch(() => {});
    await unlink(this.tmpPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") this.log.warn(`could not remove ${this.tmpPath}: ${err.message}`);
    });
  }
}

/** A Writable over a FileHandle that batches queued chunks into one writev and counts bytes. */
class FileWritable extends Writable {
  bytesWritten = 0;
  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 1 << 20 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }
  private async writeAll(buffers: Buffer[]): Promise<void> {
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await this.handle.writev(pending);
      this.bytesWritten += bytesWritten;
      pending = skipBytes(pending, bytesWritten);
    }
  }
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const rest: Buffer[] = [];
  let skip = count;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    rest.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return rest;
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

