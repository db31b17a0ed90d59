import { PassThrough, Writable, type Readable } from "node:stream";
import { NameTakenError, RunError, type ArchiveStore, type ByteRange, type ObjectWrite, type StoredObject, type StoreFeatures } from "@sov/core";
import { isNotFound, rcloneError, type RcloneCli } from "./rclone-cli.js";

interface LsjsonEntry {
  Name: string;
  Size: number;
  IsDir: boolean;
}

/**
 * Any rclone remote as a `"rename"` store: temporaries are written with `rclone rcat`, published
 * with `moveto --ignore-existing` after a check (rclone has no atomic no-replace move: a writer
 * racing between the check and the move could still be replaced on some backends).
 */
export class RcloneStore implements ArchiveStore {
  readonly features: StoreFeatures;

  constructor(readonly name: string, private readonly remote: string, private readonly cli: RcloneCli) {
    // An on-the-fly local remote writes this host's disk: `sov install` must make it writable.
    const localPath = /^:local:(\/.*)$/.exec(remote)?.[1];
    this.features = localPath ? { publish: "rename", localPath } : { publish: "rename" };
  }

  describe(): string[] {
    return [`rclone ${this.remote} (${this.cli.binary})`];
  }

  /** Creates the folder where the remote has folders (a no-op on bucket stores). */
  async open(): Promise<void> {
    await this.cli.run(["mkdir", this.remote], `create ${this.remote}`);
  }

  async close(): Promise<void> {}

  async list(): Promise<StoredObject[]> {
    let out: string;
    try {
      out = await this.cli.run(["lsjson", "--files-only", "--no-mimetype", this.remote], `list ${this.remote}`);
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    return (JSON.parse(out) as LsjsonEntry[]).map((entry) => ({ name: entry.Name, size: entry.Size, location: this.path(entry.Name) }));
  }

  async stat(name: string): Promise<StoredObject | null> {
    let out: string;
    try {
      out = await this.cli.run(["lsjson", "--stat", "--no-mimetype", this.path(name)], `stat ${this.path(name)}`);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const entry = JSON.parse(out) as LsjsonEntry;
    if (entry.IsDir) throw new RunError(`rclone: ${this.path(name)} is a directory, not an archive; move it out of ${this.remote}`);
    return { name, size: entry.Size, location: this.path(name) };
  }

  read(name: string, range?: ByteRange): Readable {
    const out = new PassThrough();
    if (range && range.end <= range.start) {
      out.end();
      return out;
    }
    const rangeArgs = range ? ["--offset", String(range.start), "--count", String(range.end - range.start)] : [];
    const child = this.cli.spawn(["cat", ...rangeArgs, this.path(name)], { stdin: "ignore", stdout: "pipe" });
    child.stdout!.pipe(out, { end: false });
    // End only when rclone exits 0: its stdout ends also when it fails half-way.
    child.then(
      () => out.end(),
      (err: unknown) => out.destroy(rcloneError(err, `read ${this.path(name)}`)),
    );
    out.once("close", () => {
      if (child.exitCode === null) child.kill();
    });
    return out;
  }

  async remove(name: string): Promise<void> {
    if ((await this.stat(name)) === null) return;
    await this.cli.run(["deletefile", "--retries", "1", this.path(name)], `delete ${this.path(name)}`);
  }

  async writeTemporary(temporaryName: string): Promise<ObjectWrite> {
    const target = this.path(temporaryName);
    if ((await this.stat(temporaryName)) !== null) throw new NameTakenError(temporaryName);
    const child = this.cli.spawn(["rcat", target], { stdin: "pipe", stdout: "ignore" });
    const exited = child.then(
      () => undefined,
      (err: unknown) => rcloneError(err, `write ${target}`),
    );
    let acknowledged = 0;
    const store = this;
    const writable = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        child.stdin!.write(chunk, (err) => callback(err ?? undefined));
      },
      final(callback) {
        child.stdin!.end();
        // The remote's own size is what it acknowledged: rcat exits 0 once the upload is stored.
        exited
          .then(async (failure) => {
            if (failure) throw failure;
            acknowledged = (await store.stat(temporaryName))?.size ?? 0;
          })
          .then(() => callback(), callback);
      },
    });
    child.stdin!.on("error", (err) => writable.destroy(err));
    Object.defineProperty(writable, "bytesWritten", { get: () => acknowledged });
    return {
      writable: writable as Writable & { readonly bytesWritten: number },
      discard: async () => {
        writable.destroy();
        if (child.exitCode === null) child.kill();
        await exited;
        await this.remove(temporaryName);
      },
    };
  }

  /**
   * Checks that `finalName` is free, then moves with `--ignore-existing`: if another writer took
   * the name in between, rclone skips the move and the temporary is still there, which we report
   * as NameTakenError. rclone cannot fsync the remote; durability is the backend's.
   */
  async publish(temporaryName: string, finalName: string): Promise<void> {
    if ((await this.stat(finalName)) !== null) throw new NameTakenError(finalName);
    await this.cli.run(["moveto", "--ignore-existing", this.path(temporaryName), this.path(finalName)], `publish ${this.path(finalName)}`);
    if ((await this.stat(temporaryName)) !== null) throw new NameTakenError(finalName);
  }

  /** `remote:dir` + `name`, with a `/` unless the remote is a bare `name:`. */
  private path(name: string): string {
    return this.remote.endsWith(":") || this.remote.endsWith("/") ? `${this.remote}${name}` : `${this.remote}/${name}`;
  }
}
