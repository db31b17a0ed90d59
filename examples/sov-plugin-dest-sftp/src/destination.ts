import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { archiveName, parseArchiveName, type ArchiveMeta, type ArchiveRef, type Destination, type Logger, type StagedWrite } from "@sov/core";
import { isNoSuchFile, SftpConnection } from "./connection.js";
import type { ResolvedOptions } from "./options.js";
import { RemoteFileWritable } from "./remote-writable.js";

/**
 * Temporary upload names: `<archive>.<machine>.<pid>-<random>.tmp`. They never end in an archive
 * suffix, so no listing shows them, and they say which process on which machine wrote them, so
 * a later run can tell an abandoned upload from one in progress.
 */
const TMP_RE = /^(sovereign-backup-.+?)\.([A-Za-z0-9_-]+)\.(\d+)-[0-9a-f]+\.tmp$/;
const MACHINE = hostname().replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "host";

/** The checksum sidecar beside each archive, in `sha256sum` format (as the core's local store keeps it). */
const CHECKSUM_SUFFIX = ".sha256";

/** How many `-N` names commit() tries before giving up. */
const MAX_SEQUENCE = 1000;

/**
 * An archive directory on an SFTP server. Uploads go to a temporary name and become visible
 * only in commit(), by a link (or rename) that never replaces an existing archive; retention is
 * the core's, through list() and remove().
 */
export class SftpDestination implements Destination {
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
      await this.removeAbandoned();
    } catch (err) {
      // The core closes only what opened: a failed open() must not leave the connection up.
      await this.close();
      throw err;
    }
  }

  async stage(archive: string): Promise<StagedWrite> {
    requireArchiveName(archive);
    const conn = this.connection();
    const tmpPath = this.remote(temporaryName(archive));
    const handle = await conn.openExclusive(tmpPath);
    return new StagedUpload(this, conn, handle, tmpPath, archive, this.log);
  }

  async list(): Promise<ArchiveRef[]> {
    const entries = await this.connection().readdir(this.options.remoteDir);
    return entries
      .filter((e) => e.isFile && parseArchiveName(e.name))
      .map((e) => ({ destination: this.name, name: e.name, location: this.location(e.name), size: e.size }));
  }

  async remove(archive: ArchiveRef): Promise<void> {
    requireArchiveName(archive.name);
    const conn = this.connection();
    await conn.unlink(this.remote(archive.name));
    await conn.unlink(this.remote(`${archive.name}${CHECKSUM_SUFFIX}`)).catch(() => {});
  }

  /** The `.sha256` sidecar written at commit, or null when there is none. */
  async readChecksum(archive: ArchiveRef): Promise<string | null> {
    requireArchiveName(archive.name);
    try {
      const text = (await this.connection().readFile(this.remote(`${archive.name}${CHECKSUM_SUFFIX}`))).toString("utf8");
      return /^([0-9a-f]{64}) /.exec(text)?.[1] ?? null;
    } catch (err) {
      if (isNoSuchFile(err)) return null;
      throw err;
    }
  }

  /** Writes `<name>.sha256` (`sha256sum -c` format) through a temporary name, like the archive. */
  async writeChecksum(conn: SftpConnection, name: string, sha256: string): Promise<void> {
    const finalPath = this.remote(`${name}${CHECKSUM_SUFFIX}`);
    const tmpPath = this.remote(temporaryName(`${name}${CHECKSUM_SUFFIX}`));
    const handle = await conn.openExclusive(tmpPath);
    try {
      await conn.write(handle, Buffer.from(`${sha256}  ${name}\n`), 0, tmpPath);
      if (conn.has("fsync@openssh.com")) await conn.fsync(handle, tmpPath);
    } finally {
      await conn.closeHandle(handle, tmpPath).catch(() => {});
    }
    try {
      if (conn.has("posix-rename@openssh.com")) {
        await conn.posixRename(tmpPath, finalPath);
      } else {
        // A stale sidecar of a removed archive would make a plain SFTP rename fail.
        await conn.unlink(finalPath).catch(() => {});
        await conn.rename(tmpPath, finalPath);
      }
    } catch (err) {
      await conn.unlink(tmpPath).catch(() => {});
      throw err;
    }
  }

  read(archive: ArchiveRef): Readable {
    const out = new PassThrough();
    try {
      requireArchiveName(archive.name);
      const conn = this.connection();
      const stream = conn.sftp.createReadStream(this.remote(archive.name));
      const unsubscribe = conn.onClose((err) => stream.destroy(err));
      stream.on("error", (err: Error) => {
        unsubscribe();
        out.destroy(new Error(`reading ${this.location(archive.name)}: ${err.message}`));
      });
      stream.on("close", unsubscribe);
      stream.pipe(out);
    } catch (err) {
      process.nextTick(() => out.destroy(err as Error));
    }
    return out;
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = undefined;
    await conn?.end();
  }

  /** Links (or renames) the upload to `name`, or `name-N` when taken; returns the name it got. */
  async publish(conn: SftpConnection, tmpPath: string, name: string): Promise<string> {
    for (let sequence = 0; sequence < MAX_SEQUENCE; sequence++) {
      const candidate = sequence === 0 ? name : withSequence(name, sequence);
      const finalPath = this.remote(candidate);
      if (conn.has("hardlink@openssh.com")) {
        try {
          await conn.hardlink(tmpPath, finalPath);
          await conn.unlink(tmpPath).catch((err: Error) => this.log.warn(`could not remove ${tmpPath} after linking it: ${err.message}`));
          return candidate;
        } catch (err) {
          if (await conn.stat(finalPath)) continue;
          if (conn.closed) throw err;
          // The server's filesystem may not do hard links: fall through to rename.
        }
      }
      if (await conn.stat(finalPath)) continue;
      try {
        // Plain SFTP rename refuses an existing target on OpenSSH; the stat above covers the
        // others, and the run lock keeps other sov runs of this host out of the window.
        await conn.rename(tmpPath, finalPath);
        return candidate;
      } catch (err) {
        if (await conn.stat(finalPath)) continue;
        throw err;
      }
    }
    throw new Error(`no free archive name for ${name} in ${this.location("")}`);
  }

  remote(name: string): string {
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

  /** Uploads this machine started in runs that died (pid gone): removed, never listed. */
  private async removeAbandoned(): Promise<void> {
    const conn = this.connection();
    for (const entry of await conn.readdir(this.options.remoteDir)) {
      const m = TMP_RE.exec(entry.name);
      if (!m || m[2] !== MACHINE) continue;
      const pid = Number(m[3]);
      if (pid === process.pid || isProcessAlive(pid)) continue;
      await conn.unlink(this.remote(entry.name)).then(
        () => this.log.warn(`removed ${entry.name}, an upload left by an interrupted run`),
        (err: Error) => this.log.warn(`could not remove the abandoned upload ${entry.name}: ${err.message}`),
      );
    }
  }
}

/** One upload: a temporary remote file until commit() links it under its final name. */
class StagedUpload implements StagedWrite {
  readonly writable: RemoteFileWritable;
  private settled = false;
  private handleOpen = true;

  constructor(
    private readonly dest: SftpDestination,
    private readonly conn: SftpConnection,
    private readonly handle: Buffer,
    private readonly tmpPath: string,
    private readonly archive: string,
    private readonly log: Logger,
  ) {
    this.writable = new RemoteFileWritable(conn, handle, archive);
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    if (this.settled) throw new Error(`${this.archive} was already committed or aborted`);
    this.settled = true;
    try {
      if (!this.writable.writableFinished) throw new Error("commit before the stream finished");
      if (this.conn.has("fsync@openssh.com")) await this.conn.fsync(this.handle, this.tmpPath);
      const { size } = await this.conn.fstat(this.handle, this.tmpPath);
      if (size !== this.writable.bytesWritten) {
        throw new Error(`${this.tmpPath} holds ${size} bytes on the server, ${this.writable.bytesWritten} were written`);
      }
      await this.closeHandle();
      const finalName = await this.dest.publish(this.conn, this.tmpPath, this.archive);
      if (finalName !== this.archive) this.log.warn(`${this.archive} exists already; wrote ${finalName}`);
      if (meta) {
        // The archive is published now; a missing sidecar only means `sov verify --storage`
        // cannot check this copy, so it is a warning, not a failed commit.
        await this.dest.writeChecksum(this.conn, finalName, meta.sha256).catch((err: Error) => {
          this.log.warn(`could not write ${finalName}${CHECKSUM_SUFFIX}: ${err.message}`);
        });
      }
      return { destination: this.dest.name, name: finalName, location: this.dest.location(finalName), size };
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

  private async closeHandle(): Promise<void> {
    if (!this.handleOpen) return;
    this.handleOpen = false;
    await this.conn.closeHandle(this.handle, this.tmpPath);
  }

  /** Stops the upload and removes the temporary file; a dead connection leaves it to the next run. */
  private async discard(): Promise<void> {
    this.writable.destroy();
    if (this.conn.closed) {
      this.log.warn(`could not remove ${this.dest.location(posix.basename(this.tmpPath))}: ${this.conn.closed.message}; the next run removes it`);
      return;
    }
    await this.closeHandle().catch(() => {});
    await this.conn.unlink(this.tmpPath).catch((err: Error) => {
      if (!isNoSuchFile(err)) this.log.warn(`could not remove ${this.tmpPath}: ${err.message}; the next run removes it`);
    });
  }
}

function temporaryName(name: string): string {
  return `${name}.${MACHINE}.${process.pid}-${randomBytes(4).toString("hex")}.tmp`;
}

function requireArchiveName(name: string): void {
  if (!parseArchiveName(name) || name.includes("/")) throw new Error(`refusing ${JSON.stringify(name)}: not an archive name`);
}

/** The same archive name with `-N` after the timestamp (the core's rule for a name that is taken). */
function withSequence(name: string, sequence: number): string {
  const p = parseArchiveName(name)!;
  return archiveName(p.host, p.timestamp, p.compression, p.encryption, sequence);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
