import type { Logger } from "@sov/core";
import ssh2, { type SFTPWrapper, type Stats } from "ssh2";
import { fingerprint, hostKeyAlgorithms, verifyHostKey } from "./known-hosts.js";
import type { ResolvedOptions } from "./options.js";

const { Client } = ssh2;

/** A directory entry as the server reports it. */
export interface RemoteEntry {
  readonly name: string;
  readonly size: number;
  readonly isFile: boolean;
}

/**
 * One SSH connection with its SFTP session, as promises with a deadline each. Once the
 * connection is gone every call fails at once with the reason, instead of waiting forever.
 */
export class SftpConnection {
  private closedReason: Error | undefined;
  private readonly closeListeners = new Set<(err: Error) => void>();

  private constructor(
    private readonly client: InstanceType<typeof Client>,
    readonly sftp: SFTPWrapper,
    readonly options: ResolvedOptions,
  ) {
    const onGone = (err?: Error) => {
      if (this.closedReason) return;
      this.closedReason = err ?? new Error(`the connection to ${options.host}:${options.port} closed`);
      for (const listener of this.closeListeners) listener(this.closedReason);
    };
    client.on("error", (err: Error) => onGone(new Error(`connection to ${options.host}:${options.port} failed: ${err.message}`)));
    client.on("close", () => onGone());
    sftp.on("error", (err: Error) => onGone(new Error(`SFTP session with ${options.host}:${options.port} failed: ${err.message}`)));
    sftp.on("close", () => onGone(new Error(`the SFTP session with ${options.host}:${options.port} closed`)));
  }

  /** Connects, checks the host key against the pinned ones, logs in with the key, opens SFTP. */
  static open(options: ResolvedOptions, log: Logger): Promise<SftpConnection> {
    return new Promise((resolve, reject) => {
      const client = new Client();
      let hostKeyProblem: string | undefined;
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(hostKeyProblem ? new Error(hostKeyProblem) : err);
      };
      // `on`, not `once`: after a failed handshake the socket may still report a reset, and an
      // 'error' without a listener would crash the whole run.
      client.on("error", (err: Error) => {
        if (/no matching host key/i.test(err.message)) {
          const pinned = [...new Set(options.pin.keys.map((k) => k.keyType))].join(", ");
          hostKeyProblem = `${options.pin.name} offers no host key of the type ${options.knownHostsFile} pins (${pinned}); refusing to connect (check the server's host keys, then its known_hosts line)`;
        }
        fail(new Error(`cannot connect to ${options.host}:${options.port} as ${options.user}: ${err.message}`));
      });
      client.once("close", () => fail(new Error(`${options.host}:${options.port} closed the connection during login`)));
      client.once("ready", () => {
        const timer = setTimeout(() => fail(new Error(`${options.host}:${options.port} did not start the SFTP subsystem within ${options.timeoutMs / 1000}s`)), options.timeoutMs);
        client.sftp((err, sftp) => {
          clearTimeout(timer);
          if (err) return fail(new Error(`${options.host}:${options.port} refused the SFTP subsystem: ${err.message}`));
          if (settled) return;
          settled = true;
          resolve(new SftpConnection(client, sftp, options));
        });
      });
      client.connect({
        host: options.host,
        port: options.port,
        username: options.user,
        privateKey: options.privateKey,
        readyTimeout: options.timeoutMs,
        keepaliveInterval: Math.min(10_000, options.timeoutMs),
        keepaliveCountMax: 3,
        algorithms: { serverHostKey: hostKeyAlgorithms(options.pin) as never },
        hostVerifier: (key: Buffer) => {
          const verdict = verifyHostKey(options.pin, key, options.knownHostsFile);
          if (!verdict.ok) {
            hostKeyProblem = verdict.reason;
            return false;
          }
          log.debug(`host key of ${options.pin.name} matches ${options.knownHostsFile} (${fingerprint(key)})`);
          return true;
        },
      });
    });
  }

  get closed(): Error | undefined {
    return this.closedReason;
  }

  /** Calls `listener` once if the connection goes away; returns a function that unsubscribes. */
  onClose(listener: (err: Error) => void): () => void {
    if (this.closedReason) {
      const err = this.closedReason;
      queueMicrotask(() => listener(err));
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** Runs one SFTP request with a deadline; fails at once when the connection is gone. */
  call<T>(what: string, start: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
    if (this.closedReason) return Promise.reject(new Error(`${what}: ${this.closedReason.message}`));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null | undefined, value?: T) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        if (err) reject(new Error(`${what}: ${err.message}`, { cause: err }));
        else resolve(value as T);
      };
      const timer = setTimeout(() => finish(new Error(`no answer from ${this.options.host} within ${this.options.timeoutMs / 1000}s`)), this.options.timeoutMs);
      const unsubscribe = this.onClose((err) => finish(err));
      try {
        start(finish);
      } catch (err) {
        finish(err as Error);
      }
    });
  }

  has(extension: "hardlink@openssh.com" | "fsync@openssh.com" | "posix-rename@openssh.com"): boolean {
    // ssh2 keeps the server's advertised SFTP extensions here; it has no public accessor.
    const extensions = (this.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
    return extensions?.[extension] === "1";
  }

  stat(path: string): Promise<Stats | null> {
    return this.call<Stats>(`stat ${path}`, (cb) => this.sftp.stat(path, cb)).catch((err: Error) => {
      if (isNoSuchFile(err)) return null;
      throw err;
    });
  }

  async readdir(path: string): Promise<RemoteEntry[]> {
    const list = await this.call<Array<{ filename: string; attrs: Stats }>>(`list ${path}`, (cb) => this.sftp.readdir(path, cb));
    return list.map((e) => ({ name: e.filename, size: Number(e.attrs.size), isFile: e.attrs.isFile() }));
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.call<void>(`mkdir ${path}`, (cb) => this.sftp.mkdir(path, { mode }, cb));
  }

  unlink(path: string): Promise<void> {
    return this.call<void>(`remove ${path}`, (cb) => this.sftp.unlink(path, cb));
  }

  /** SSH_FXP_RENAME: fails if `to` exists on OpenSSH (it links, then unlinks). */
  rename(from: string, to: string): Promise<void> {
    return this.call<void>(`rename ${from} to ${to}`, (cb) => this.sftp.rename(from, to, cb));
  }

  /** posix-rename@openssh.com: rename(2), which replaces an existing `to` atomically. */
  posixRename(from: string, to: string): Promise<void> {
    return this.call<void>(`rename ${from} to ${to}`, (cb) => this.sftp.ext_openssh_rename(from, to, cb));
  }

  /** hardlink@openssh.com: atomic, and never replaces an existing `to`. */
  hardlink(from: string, to: string): Promise<void> {
    return this.call<void>(`link ${from} to ${to}`, (cb) => this.sftp.ext_openssh_hardlink(from, to, cb));
  }

  /** Creates `path` exclusively (O_CREAT|O_EXCL), mode 0600. */
  openExclusive(path: string): Promise<Buffer> {
    return this.call<Buffer>(`create ${path}`, (cb) => this.sftp.open(path, "wx", { mode: 0o600 }, cb));
  }

  /** Writes all of `data` at `position` (one request per piece, in order). */
  write(handle: Buffer, data: Buffer, position: number, path: string): Promise<void> {
    return this.call<void>(`write ${path}`, (cb) => this.sftp.write(handle, data, 0, data.length, position, (err) => cb(err)));
  }

  readFile(path: string): Promise<Buffer> {
    return this.call<Buffer>(`read ${path}`, (cb) => this.sftp.readFile(path, cb));
  }

  fsync(handle: Buffer, path: string): Promise<void> {
    return this.call<void>(`fsync ${path}`, (cb) => this.sftp.ext_openssh_fsync(handle, cb));
  }

  fstat(handle: Buffer, path: string): Promise<Stats> {
    return this.call<Stats>(`stat ${path}`, (cb) => this.sftp.fstat(handle, cb));
  }

  closeHandle(handle: Buffer, path: string): Promise<void> {
    return this.call<void>(`close ${path}`, (cb) => this.sftp.close(handle, cb));
  }

  /** Ends the session and the connection; waits (briefly) until the socket is closed. */
  async end(): Promise<void> {
    if (this.closedReason) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      this.onClose(() => {
        clearTimeout(timer);
        resolve();
      });
      this.sftp.end();
      this.client.end();
    });
  }
}

/** SSH_FX_NO_SUCH_FILE (2), as ssh2 reports it. */
export function isNoSuchFile(err: unknown): boolean {
  const code = (err as { code?: unknown; cause?: { code?: unknown } }).code ?? (err as { cause?: { code?: unknown } }).cause?.code;
  return code === 2 || code === "ENOENT";
}
