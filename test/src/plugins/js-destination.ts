/**
 * JavaScript source for test plugins written to disk as they would be installed: a function
 * `directoryDestination(name, dir)` returning a minimal destination (a directory, the temp file
 * linked to its final name on commit). It needs `parseArchiveName` imported from "@sov/core"
 * and the node:fs and node:path imports below.
 */
export const DIRECTORY_DESTINATION_IMPORTS = `import { createReadStream, createWriteStream, linkSync, mkdirSync, readdirSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { parseArchiveName } from "@sov/core";`;

export const DIRECTORY_DESTINATION_JS = `function directoryDestination(name, dir) {
  const ref = (n) => ({ destination: name, name: n, location: join(dir, n), size: statSync(join(dir, n)).size });
  return {
    name,
    describe: () => ["directory " + dir],
    open: async () => void mkdirSync(dir, { recursive: true, mode: 0o700 }),
    stage: async (archive) => {
      const tmp = join(dir, archive + ".tmp");
      const writable = createWriteStream(tmp, { flags: "wx", mode: 0o600 });
      return {
        writable,
        commit: async () => { linkSync(tmp, join(dir, archive)); unlinkSync(tmp); return ref(archive); },
        abort: async () => { writable.destroy(); try { unlinkSync(tmp); } catch {} },
      };
    },
    list: async () => readdirSync(dir).filter((n) => parseArchiveName(n)).map(ref),
    remove: async (a) => unlinkSync(join(dir, a.name)),
    read: (a) => createReadStream(join(dir, a.name)),
    close: async () => {},
  };
}`;
