/**
 * `sov restore`: list, verify and restore archives, the bash tool's `sovereign-restore` surface.
 * The CLI calls `restoreCommand`; the pieces are exported for tests and other front ends.
 */
export { restoreCommand, RESTORE_HELP, DEFAULT_IDENTITY, type RestoreIO } from "./command.js";
export { stageOf } from "./stage.js";
export { openArchivePlaintext, archiveLayers, type ArchiveLayers, type DecoderLookup, type OpenOptions } from "./decode.js";
export { extractArchive, type ExtractOptions, type ExtractReport, type Refusal } from "./extract.js";
export { verifyArchive, verifyTar, type VerifyReport } from "./verify.js";
export { configuredArchiveDirs, latestArchive, listArchives, DEFAULT_USB_MOUNT, type ArchiveDir, type ListedArchive } from "./catalog.js";
export { prepareTarget } from "./target.js";
export { checkEntryName, PathFilter } from "./entry-name.js";
export { TarReader, ArchiveReadError } from "./tar-reader.js";
export type { TarEntry, EntryType } from "@sov/core/archive";
