import { createReadStream } from "node:fs";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { openArchivePlaintext, type OpenOptions } from "./decode.js";
import { verifyTarOnThread } from "./extract-thread.js";
import type { VerifyReport } from "./tar-verify.js";

export { verifyTar, type VerifyReport } from "./tar-verify.js";

/** Bytes read from the archive file at a time. */
export const READ_CHUNK = 1 << 20;

/** `sov restore --verify FILE`: decrypts, decompresses and reads the whole archive; writes nothing. */
export async function verifyArchive(file: string, identityFile: string | undefined, options: OpenOptions = {}): Promise<VerifyReport> {
  return verifyArchiveStream(createReadStream(file, { highWaterMark: READ_CHUNK }), basename(file), identityFile, options);
}

/** The same for an archive read from anywhere (a destination through the storage contract). */
export async function verifyArchiveStream(readable: Readable, name: string, identityFile: string | undefined, options: OpenOptions = {}): Promise<VerifyReport> {
  // the event-loop thread decrypts; the tar is read on the thread a restore extracts on
  return verifyTarOnThread(await openArchivePlaintext(readable, name, identityFile, options));
}
