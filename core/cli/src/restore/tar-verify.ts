// the light entry points only: the extraction worker (extract-worker.ts) loads this module
import type { Readable } from "node:stream";
import { displayName } from "@sov/core/archive";
import { checkEntryName, plainPath } from "./entry-name.js";
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
  // nothing here looks at owner names
  const reader = new TarReader(tar, "no-owners");
  try {
    for (let entry = reader.nextBuffered() ?? (await reader.next()); entry; entry = reader.nextBuffered() ?? (await reader.next())) {
      report.entries++;
      if (entry.type === "file") {
        report.files++;
        report.bytes += entry.size;
      }
      const refused = refusal(entry.name, entry.type !== "directory") ?? (entry.type === "hardlink" ? refusal(entry.linkname, false, "hard link target: ") : null);
      if (refused) report.unsafe.push({ entry: displayName(entry.name), reason: refused });
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

/**
 * Why a restore would refuse `name` (led by `lead`), or null: checkEntryName only for an unusual
 * name. An entry that is not a directory may not name TARGET itself (`.`, `./`), as the
 * extractor says.
 */
function refusal(name: string, needsName: boolean, lead = ""): string | null {
  if (plainPath(name) !== null) return null;
  const check = checkEntryName(name);
  if (!check.ok) return `${lead}${check.reason}`;
  return needsName && check.parts.length === 0 ? `${lead}empty name` : null;
}
