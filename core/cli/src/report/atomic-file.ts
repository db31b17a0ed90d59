import { open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { syncDirectory } from "@sov/core";

/** Small files (state, metrics) replaced atomically: readers see the old or the new, never half. */
export async function writeFileAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  const handle = await open(tmp, "w", mode);
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
