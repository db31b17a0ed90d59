/**
 * `@sov/core/archive`: the tar format as sov writes and reads it, shared by the source
 * (source-fs, which runs it in a worker thread: keep this module free of the rest of the core)
 * and restore. One header codec and entry vocabulary, one byte-string path convention, one
 * passwd/group parser, one pattern language.
 */
export { byteString, displayName, fsPath } from "./byte-string.js";
export { compileGlobs, globToRegExpSource, hasWildcards, type GlobOptions, type NameMatcher } from "./glob.js";
export { idsByName, loadIdNames, namesById, parseIdFile, parseIdLine, readIdFile, type IdFileEntry, type IdNames } from "./owner-names.js";
export { paxRecord, paxTime, parsePax } from "./pax.js";
export { decodeHeader, isZeroBlock, makeEntry, type HeaderStrings, type RawHeader, type TarEntry } from "./tar-decode.js";
export { encodeHeader, encodePaxHeader, paxRecordsFor, writeUstarHeader, type EntryHeader } from "./tar-encode.js";
export { BLOCK_SIZE, paddedSize, TarFormatError, TYPE, TYPEFLAG, type EntryType } from "./tar-format.js";
export { DeepPaths, MAX_MEMBER_DEPTH } from "./deep-path.js";
export { TarScanner, type ScanOutcome } from "./tar-scan.js";
export {
  DecodedSeekIndex, decodeSeekIndex, encodeSeekIndex, framesCovering, indexedEntry, seekFrameLength, SeekIndexError, SeekIndexWriter, SEEK_FOOTER_SIZE, SKIPPABLE_MAGIC,
  type IndexedEntry, type IndexedType, type SeekFrame, type SeekIndex,
} from "./seek-index.js";
