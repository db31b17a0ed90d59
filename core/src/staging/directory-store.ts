import { constants as fsc, createReadStream } from "node:fs";
import { link, lstat, mkdir, open, readdir, rename, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import type { Logger } from "../log.js";
import { silentLogger } from "../log.js";
import { NameTakenError, type ArchiveStore, type ByteRange, type ObjectWrite, type StoredObject, type StoreFeatures } from "../storage.js";

/** Codes for "this filesystem has no hard links" (vfat, exfat, some FUSE mounts). */
const NO_HARD_LINKS = new Set(["EPERM", "ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/** A stored object as a directory lists it; `destination` keeps it usable as an `ArchiveRef`. */
export type DirectoryObject = StoredObject & { readonly destination: string };

/**
 * An archive directory on a local filesystem (a plain directory, a mounted stick) as an
 * `ArchiveStore`: temporaries created exclusively (never through a planted symlink) and fsynced
 * before their writable finishes; publish by hard link, which fails rather than replace, with a
 * check-then-rename fallback where the filesystem has no links; the directory fsynced after
 * every change of names. The core's staging decides names and when to publish.
 */
export class DirectoryStore implements ArchiveStore {
  readonly features: StoreFeatures;

  constructor(
    readonly dir: string,
    readonly name: string,
    private readonly log: Logger = silentLogger(),
  ) {
    this.features = { publish: "rename", localPath: dir };
  }

  describe(): string[] {
    return [`directory ${this.dir}`];
  }

  /** Creates the directory 0700 if missing; warns when others can read it. */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    if (!st.isDirectory()) throw new Error(`${this.dir} is not a directory`);
    if (st.mode & 0o077) {
      this.log.warn(`${this.dir} is readable by others (mode ${(st.mode & 0o777).toString(8)}); archives are 0600 but 0700 is advised`);
    }
  }

  async close(): Promise<void> {}

  async list(): Promise<DirectoryObject[]> {
    const objects: DirectoryObject[] = [];
    for (const entry of await readdir(this.dir)) {
      const st = await lstat(join(this.dir, entry)).catch(() => null);
      if (st?.isFile()) objects.push(this.object(entry, st.size));
    }
    return objects;
  }

  async stat(name: string): Promise<DirectoryObject | null> {
    const st = await lstat(this.path(name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    return st?.isFile() ? this.object(name, st.size) : null;
  }

  read(name: string, range?: ByteRange): Readable {
    const path = this.path(name);
    if (range && range.end <= range.start) return Readable.from([]);
    return createReadStream(path, range ? { start: range.start, end: range.end - 1 } : {});
  }

  async remove(name: string): Promise<void> {
    try {
      await unlink(this.path(name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await syncDirectory(this.dir);
  }

  async writeTemporary(temporaryName: string): Promise<ObjectWrite> {
    const path = this.path(temporaryName);
    // O_EXCL|O_NOFOLLOW: a name planted in advance (a symlink to /etc/shadow) fails, never followed.
    const handle = await open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
    const writable = new FileWritable(handle);
    return {
      writable,
      discard: async () => {
        await destroyed(writable);
        await unlink(path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
      },
    };
  }

  async publish(temporaryName: string, finalName: string): Promise<void> {
    const from = this.path(temporaryName);
    const to = this.path(finalName);
    try {
      await link(from, to);
      await unlink(from);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (code === "EEXIST") throw new NameTakenError(finalName);
      if (!NO_HARD_LINKS.has(code)) throw err;
      // No hard links here: rename after checking the name is free. The run lock keeps other
      // sov runs out of the window between the check and the rename.
      if (await lstat(to).then(() => true, () => false)) throw new NameTakenError(finalName);
      await rename(from, to);
    }
    await syncDirectory(this.dir);
    this.log.debug(`published ${finalName}`);
  }

  private path(name: string): string {
    if (!name || name === "." || name === ".." || name.includes("/") || name.includes("\0")) {
      throw new Error(`refusing ${JSON.stringify(name)} in ${this.dir}: not a plain object name`);
    }
    return join(this.dir, name);
  }

  private object(name: string, size: number): DirectoryObject {
    return { destination: this.name, name, size, location: join(this.dir, name) };
  }
}

/**
 * A Writable over a FileHandle that batches queued chunks into one writev, counts the bytes the
 * kernel took, and fsyncs and closes the file before it finishes: once 'finish' fires the bytes
 * are durable, which is what the core's length check and publish rely on.
 */
class FileWritable extends Writable {
  bytesWritten = 0;
  private handleClosed = false;

  constructor(private readonly handle: FileHandle) {
    super({ highWaterMark: 1 << 20 });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.writeAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.handle
      .sync()
      .then(() => this.closeHandle())
      .then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.closeHandle().then(
      () => callback(err),
      () => callback(err),
    );
  }

  private async closeHandle(): Promise<void> {
    if (this.handleClosed) return;
    this.handleClosed = true;
    await this.handle.close();
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

/** Destroys a writable and waits until its file handle is closed. */
function destroyed(writable: Writable): Promise<void> {
  if (writable.closed) return Promise.resolve();
  return new Promise((resolve) => {
    writable.once("close", () => resolve());
    writable.destroy();
  });
}

export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
