import { constants as fsc } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { syncDirectory } from "@sov/core";

/**
 * Small files (state, metrics) replaced atomically: readers see the old or the new, never half.
 * The directory may belong to someone else (node_exporter's textfile directory): the temporary
 * name is unguessable and created exclusively, never through a symlink planted there, and the
 * rename replaces whatever sits at the final name without following it.
 */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    await rename(tmp, path);
    await syncDirectory(dirname(path));
  } catch (err) {
    await handle.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
}
