// A destination plugin written for sov 0.1 (the Destination/StagedWrite interface, deprecated):
// PLUGINS.md's complete example as it stood in 0.1. sov must keep running it, with its checks.
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, open, readdir, stat, unlink } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { archiveName, definePlugin, parseArchiveName, type ArchiveRef, type Destination, type StagedWrite } from "@sov/core";

export const PLUGIN_NAME = "sov-plugin-dest-legacy-0.1";

export interface LegacyOptions {
  /** The archive directory; created 0700. Relative paths are relative to the config file. */
  dir: string;
}

const optionsSchema = {
  type: "object",
  required: ["dir"],
  properties: { dir: { type: "string", minLength: 1 } },
  additionalProperties: false,
};

/** Only archive names are ever written or removed: no `..`, no `/`. */
function requireArchiveName(name: string): void {
  if (!parseArchiveName(name) || name.includes("/")) throw new Error(`refusing ${JSON.stringify(name)}: not an archive name`);
}

export class LegacyDestination implements Destination {
  constructor(
    readonly name: string,
    private readonly dir: string,
  ) {}

  describe(): string[] {
    return [`directory ${this.dir}`];
  }

  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  async stage(archive: string): Promise<StagedWrite> {
    requireArchiveName(archive);
    // The temporary name ends in .tmp, so parseArchiveName() (and so list()) never accepts it.
    const tmp = join(this.dir, `${archive}.${process.pid}.tmp`);
    const writable = createWriteStream(tmp, { flags: "wx", mode: 0o600 });
    let settled = false;
    const discard = async () => {
      writable.destroy();
      await unlink(tmp).catch(() => {});
    };
    const commit = async (): Promise<ArchiveRef> => {
      if (settled) throw new Error(`${archive} was already committed or aborted`);
      settled = true;
      try {
        if (!writable.writableFinished) throw new Error("commit before the stream finished");
        const handle = await open(tmp, "r");
        let size: number;
        try {
          await handle.sync(); // durable before it becomes visible
          size = (await handle.stat()).size;
        } finally {
          await handle.close();
        }
        if (size !== writable.bytesWritten) throw new Error(`${tmp} holds ${size} bytes, ${writable.bytesWritten} were written`);
        // link() fails if the name exists: never overwrite, take the next -N name instead.
        const parsed = parseArchiveName(archive)!;
        for (let n = 0; n < 1000; n++) {
          const candidate = n === 0 ? archive : archiveName(parsed.host, parsed.timestamp, parsed.compression, parsed.encryption, n);
          try {
            await link(tmp, join(this.dir, candidate));
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
            throw err;
          }
          await unlink(tmp);
          return { destination: this.name, name: candidate, location: join(this.dir, candidate), size };
        }
        throw new Error(`no free name for ${archive} in ${this.dir}`);
      } catch (err) {
        await discard(); // a failed commit leaves nothing behind
        throw err;
      }
    };
    const abort = async () => {
      if (settled) return; // after commit(): keep the archive
      settled = true;
      await discard();
    };
    return { writable, commit, abort };
  }

  async list(): Promise<ArchiveRef[]> {
    const refs: ArchiveRef[] = [];
    for (const name of await readdir(this.dir)) {
      if (!parseArchiveName(name)) continue;
      const st = await stat(join(this.dir, name));
      if (st.isFile()) refs.push({ destination: this.name, name, location: join(this.dir, name), size: st.size });
    }
    return refs;
  }

  async remove(archive: ArchiveRef): Promise<void> {
    requireArchiveName(archive.name);
    await unlink(join(this.dir, archive.name));
  }

  read(archive: ArchiveRef): Readable {
    requireArchiveName(archive.name);
    return createReadStream(join(this.dir, archive.name));
  }

  async close(): Promise<void> {}
}

export default definePlugin<LegacyOptions>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    const dir = isAbsolute(options.dir) ? options.dir : resolve(ctx.configDir, options.dir);
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      destinations.add(new LegacyDestination(ctx.instance, dir));
    });
  },
});
