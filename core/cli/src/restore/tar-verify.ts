// the light entry points only: the extraction worker (extract-worker.ts) loads this module
import type { Readable } from "node:stream";
import { displayName } from "@sov/core/archive";
import { checkEntryName } from "./entry-name.js";
import type { Refusal } from "./extract.js";
import { ArchiveReadError, TarReader } from "./tar-reader.js";

export interface VerifyReport {
  /** True only when every layer checked out and the tar ended with its end-of-archive marker. */
  ok: boolean;
  entries: number;
  files: number;
  /** Bytes of file content in the archive. */
  bytes: number;
  /** Entries a restore would refuse (absolute names, `..`): worth knowing before restoring. */
  unsafe: Refusal[];
  /** What failed, led by the stage: "decrypting (.age): ...", "reading the tar: ...". */
  error?: string;
}

/**
 * Reads a plaintext tar to the end without writing anything: every header must be well formed,
 * every entry's data present, the end-of-archive zero blocks there, and the stream read to its
 * last byte so the decoders check their final chunk and checksum.
 */
export async function verifyTar(tar: Readable | AsyncIterable<Buffer>): Promise<VerifyReport> {
  const report: VerifyReport = { ok: false, entries: 0, files: 0, bytes: 0, unsafe: [] };
  const reader = new TarReader(tar);
  try {
    for (let entry = await reader.next(); entry; entry = await reader.next()) {
      report.entries++;
      if (entry.type === "file") {
        report.files++;
        report.bytes += entry.size;
      }
      const check = checkEntryName(entry.name);
      if (!check.ok) report.unsafe.push({ entry: displayName(entry.name), reason: check.reason });
      else if (entry.type === "hardlink") {
        const target = checkEntryName(entry.linkname);
        if (!target.ok) report.unsafe.push({ entry: displayName(entry.name), reason: `hard link target: ${target.reason}` });
      }
    }
    await reader.drain();
    report.ok = true;
  } catch (err) {
    await reader.close();
    if (!(err instanceof ArchiveReadError)) throw err;
    report.error = err.message;
  }
  return report;
}
