import { posix } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { NameTakenError, type ArchiveStore, type ByteRange, type Logger, type ObjectWrite, type StoredObject, type StoreFeatures } from "@sov/core";
import { isNoSuchFile, SftpConnection } from "./connection.js";
import type { ResolvedOptions } from "./options.js";
import { RemoteFileWritable } from "./remote-writable.js";

/**
 * An archive directory on an SFTP server, as an `ArchiveStore`: exclusive uploads to the names
 * the core gives, published by a hard link (or a rename that refuses an existing target) that
 * never replaces an archive. Temporary names, `-N`, sidecars and cleanup are the core's.
 */
export class SftpDestination implements ArchiveStore {
  readonly features: StoreFeatures = { publish: "rename", needsOpen: true };
  private conn: SftpConnection | undefined;

  constructor(
    readonly name: string,
    private readonly options: ResolvedOptions,
    private readonly log: Logger,
  ) {}

  describe(): string[] {
    const keys = this.options.pin.keys.map((k) => k.keyType).join(", ");
    return [`sftp ${this.location("")}`, `host key pinned by ${this.options.knownHostsFile} (${keys})`, `login key ${this.options.keyFile}`];
  }

  /** `sftp://user@host:port/dir/name`; a relative directory is shown under `~`. */
  location(name: string): string {
    const { user, host, port, remoteDir } = this.options;
    const h = host.includes(":") ? `[${host}]` : host;
    const dir = remoteDir.startsWith("/") ? remoteDir : `/~/${remoteDir}`;
    return `sftp://${user}@${h}${port === 22 ? "" : `:${port}`}${posix.join(dir, name)}`;
  }

  async open(): Promise<void> {
    if (this.conn && !this.conn.closed) return;
    this.conn = await SftpConnection.open(this.options, this.log);
    try {
      await this.ensureDirectory(this.options.remoteDir);
    } catch (err) {
      // The core closes only what opened: a failed open() must not leave the connection up.
      await this.close();
      throw err;
    }
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    await conn?.end();
  }

  async list(): Promise<StoredObject[]> {
    const entries = await this.connection().readdir(this.options.remoteDir);
    return entries.filter((e) => e.isFile).map((e) => ({ name: e.name, size: e.size, location: this.location(e.name) }));
  }

  async stat(name: string): Promise<StoredObject | null> {
    const st = await this.connection().stat(this.remote(name));
    return st?.isFile() ? { name, size: Number(st.size), location: this.location(name) } : null;
  }

  read(name: string, range?: ByteRange): Readable {
    const out = new PassThrough();
    try {
      const conn = this.connection();
      if (range && range.end <= range.start) return Readable.from([]);
      const stream = conn.sftp.createReadStream(this.remote(name), range ? { start: range.start, end: range.end - 1 } : {});
      const unsubscribe = conn.onClose((err) => stream.destroy(err));
      stream.on("error", (err: Error) => {
        unsubscribe();
        out.destroy(new Error(`reading ${this.location(name)}: ${err.message}`));
      });
      stream.on("close", unsubscribe);
      stream.pipe(out);
    } catch (err) {
      process.nextTick(() => out.destroy(err as Error));
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    await this.connection()
      .unlink(this.remote(name))
      .catch((err: unknown) => {
        if (!isNoSuchFile(err)) throw err;
      });
  }

  async writeTemporary(temporaryName: string): Promise<ObjectWrite> {
    const conn = this.connection();
    const path = this.remote(temporaryName);
    // SFTP reports an existing name as a generic failure: tell the core it is taken.
    const handle = await conn.openExclusive(path).catch(async (err: unknown) => {
      throw (await conn.stat(path)) ? new NameTakenError(temporaryName) : err;
    });
    let handleOpen = true;
    const closeHandle = async () => {
      if (!handleOpen) return;
      handleOpen = false;
      await conn.closeHandle(handle, path);
    };
    // Durable and closed before 'finish': the core's length check and publish come right after.
    const writable = new RemoteFileWritable(conn, handle, temporaryName, async () => {
      if (conn.has("fsync@openssh.com")) await conn.fsync(handle, path);
      await closeHandle();
    });
    const discard = async () => {
      writable.destroy();
      if (conn.closed) {
        this.log.warn(`could not remove ${this.location(temporaryName)}: ${conn.closed.message}; the next run removes it`);
        return;
      }
      await closeHandle().catch(() => {});
      await this.remove(temporaryName).catch((err: Error) => this.log.warn(`could not remove ${path}: ${err.message}; the next run removes it`));
    };
    return { writable, discard };
  }

  async publish(temporaryName: string, finalName: string): Promise<void> {
    const conn = this.connection();
    const from = this.remote(temporaryName);
    const to = this.remote(finalName);
    if (conn.has("hardlink@openssh.com")) {
      try {
        await conn.hardlink(from, to);
        await conn.unlink(from).catch((err: Error) => this.log.warn(`could not remove ${from} after linking it: ${err.message}`));
        return;
      } catch (err) {
        if (await conn.stat(to)) throw new NameTakenError(finalName);
        if (conn.closed) throw err;
        // The server's filesystem may not do hard links: fall through to rename.
      }
    }
    if (await conn.stat(to)) throw new NameTakenError(finalName);
    try {
      // Plain SFTP rename refuses an existing target on OpenSSH; the stat above covers the
      // others, and the run lock keeps other sov runs of this host out of the window.
      await conn.rename(from, to);
    } catch (err) {
      if (await conn.stat(to)) throw new NameTakenError(finalName);
      throw err;
    }
  }

  private remote(name: string): string {
    if (!name || name === "." || name === ".." || name.includes("/")) throw new Error(`refusing object name ${JSON.stringify(name)}`);
    return posix.join(this.options.remoteDir, name);
  }

  private connection(): SftpConnection {
    if (!this.conn) throw new Error(`destination ${this.name} is not open`);
    if (this.conn.closed) throw new Error(`destination ${this.name}: ${this.conn.closed.message}`);
    return this.conn;
  }

  /** `mkdir -p`, mode 0700 for what it creates; warns if the archive directory is open to others. */
  private async ensureDirectory(dir: string, isArchiveDir = true): Promise<void> {
    const conn = this.connection();
    const st = await conn.stat(dir);
    if (st) {
      if (!st.isDirectory()) throw new Error(`${dir} on ${this.options.host} is not a directory`);
      if (isArchiveDir && st.mode & 0o077) {
        this.log.warn(`${this.location("")} is accessible to others on the server (mode ${(st.mode & 0o777).toString(8)}); 0700 is advised`);
      }
      return;
    }
    const parent = posix.dirname(dir);
    if (parent !== dir && parent !== ".") await this.ensureDirectory(parent, false);
    await conn.mkdir(dir, 0o700).catch(async (err: Error) => {
      if (!(await conn.stat(dir))?.isDirectory()) throw err;
    });
  }
}
