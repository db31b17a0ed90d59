import { Readable, Transform } from "node:stream";
import type { ArchiveRef, Destination } from "../plugin.js";
import type { ArchiveStore, ByteRange, StoredObject, StoreFeatures } from "../storage.js";
import { checksumLine, sidecarName } from "./checksum-sidecar.js";

/**
 * A 0.1 `Destination` seen through the storage contract's reading side, so restore and verify
 * read every destination one way. It lists archives (and a sidecar for each archive whose
 * `readChecksum()` finds one, on demand through `stat`/`read`), reads ranges by skipping bytes,
 * and removes; it cannot write (a 0.1 destination stages its own writes).
 */
export class LegacyStoreView implements ArchiveStore {
  readonly features: StoreFeatures = { publish: "rename" };

  constructor(private readonly destination: Destination) {}

  get name(): string {
    return this.destination.name;
  }

  describe(): string[] {
    return this.destination.describe();
  }

  open(): Promise<void> {
    return this.destination.open();
  }

  close(): Promise<void> {
    return this.destination.close();
  }

  async list(): Promise<StoredObject[]> {
    return (await this.destination.list()).map(stored);
  }

  async stat(name: string): Promise<StoredObject | null> {
    const sidecarOf = name.endsWith(".sha256") ? name.slice(0, -".sha256".length) : undefined;
    const archives = await this.destination.list();
    if (sidecarOf !== undefined) {
      const archive = archives.find((r) => r.name === sidecarOf);
      const line = archive ? await this.checksumLine(archive) : null;
      return line && archive ? { name, size: line.length, location: `${archive.location}.sha256` } : null;
    }
    const found = archives.find((r) => r.name === name);
    return found ? stored(found) : null;
  }

  read(name: string, range?: ByteRange): Readable {
    const archive = (async () => {
      const archives = await this.destination.list();
      const sidecarOf = archives.find((r) => sidecarName(r.name) === name);
      if (sidecarOf) return Readable.from([(await this.checksumLine(sidecarOf)) ?? Buffer.alloc(0)]);
      const found = archives.find((r) => r.name === name);
      if (!found) throw new Error(`destination ${this.name} holds no ${name}`);
      return this.destination.read(found);
    })();
    const out = sliceOf(range);
    archive.then(
      (source) => {
        source.on("error", (err) => out.destroy(err));
        source.pipe(out);
      },
      (err: Error) => out.destroy(err),
    );
    return out;
  }

  async remove(name: string): Promise<void> {
    const found = (await this.destination.list()).find((r) => r.name === name);
    if (found) await this.destination.remove(found);
  }

  private async checksumLine(archive: ArchiveRef): Promise<Buffer | null> {
    const sha256 = await this.destination.readChecksum?.(archive);
    return sha256 ? Buffer.from(checksumLine(sha256, archive.name)) : null;
  }
}

function stored(ref: ArchiveRef): StoredObject {
  return { name: ref.name, size: ref.size, location: ref.location };
}

/** Passes through the bytes of `[start, end)` of what flows in (all of it without a range). */
function sliceOf(range: ByteRange | undefined): Transform {
  let offset = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, callback) {
      if (!range) return callback(null, chunk);
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end - offset, chunk.length);
      offset += chunk.length;
      callback(null, to > from ? chunk.subarray(from, to) : undefined);
    },
  });
}
