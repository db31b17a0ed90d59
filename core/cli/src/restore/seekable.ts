/**
 * Restore's side of seekable archives (core/src/seekable.ts writes them): open an archive's
 * index by reading its last age chunks, list its entries from the index alone, and fetch only
 * the frames that hold the entries a partial restore asks for.
 *
 * The index sits inside the authenticated encryption, so only someone holding the public key
 * could have written a lying one; every entry is still checked against the bytes before any of
 * it is handed to the extractor (its headers at the offset the index gives, its name, its
 * length), and a mismatch ends the fast path so the caller reads the archive whole.
 */
import { Readable } from "node:stream";
import {
  decodeSeekIndex, framesCovering, paddedSize, seekFrameLength, SeekIndexError, SEEK_FOOTER_SIZE, TarScanner, BLOCK_SIZE,
  type DecodedSeekIndex, type IndexedEntry, type SeekIndex,
} from "@sov/core/archive";
import { silentLogger, type ArchiveDecoder, type Logger, type RangeReader } from "@sov/core";
import { archiveLayers, type DecoderLookup } from "./decode.js";
import { checkEntryName, PathFilter, plainPath } from "./entry-name.js";

/** How much compressed data one read fetches while a frame streams through its decoder. */
const READ_PIECE = 1024 * 1024;

export interface SeekableArchive {
  readonly index: DecodedSeekIndex;
  /** The compressed stream (the archive decrypted). */
  readonly plain: RangeReader;
  readonly decompressor: ArchiveDecoder;
}

export interface SeekOptions {
  decoderFor: DecoderLookup;
  log?: Logger;
}

/**
 * The archive's index, or null when it has none (written before indexes, without compression,
 * or by a compressor that cannot cut frames) or its decryptor cannot read ranges. A damaged or
 * inconsistent index throws SeekIndexError; a wrong key throws what decrypting would.
 */
export async function openSeekable(cipher: RangeReader, name: string, identityFile: string, options: SeekOptions): Promise<SeekableArchive | null> {
  const layers = archiveLayers(name);
  if (!layers?.compression) return null;
  const decryptor = await options.decoderFor(layers.encryption);
  if (!decryptor.openRange) return null;
  const log = options.log ?? silentLogger();
  const plain = await decryptor.openRange(cipher, { identityFile, log });
  if (plain.size < SEEK_FOOTER_SIZE) return null;
  const length = seekFrameLength(await plain.read(plain.size - SEEK_FOOTER_SIZE, plain.size));
  if (length === null) return null;
  if (length > plain.size) throw new SeekIndexError(`the index claims ${length} bytes of a ${plain.size}-byte stream`);
  const start = plain.size - length;
  const index = decodeSeekIndex(await plain.read(start, plain.size), start);
  return { index, plain, decompressor: await options.decoderFor(layers.compression) };
}

/** An entry to fetch, and where it ends (where the next one starts, or the end-of-archive marker). */
export interface SelectedEntry {
  readonly entry: IndexedEntry;
  readonly end: number;
}

/** Index entries that the patterns select (all of them without patterns), in archive order. */
export function selectEntries(index: DecodedSeekIndex, patterns: readonly string[]): SelectedEntry[] {
  const filter = new PathFilter(patterns);
  const selected: SelectedEntry[] = [];
  for (let i = 0; i < index.count; i++) {
    const path = entryPath(index.name(i));
    // an unsafe name is fetched too, so the extractor refuses and reports it as a full read would
    if (path === null || !filter.active || filter.matches(path)) selected.push({ entry: index.entry(i), end: index.end(i) });
  }
  return selected;
}

/** The path PathFilter matches for `name` (checkEntryName's); null when the name is unsafe. */
function entryPath(name: string): string | null {
  const path = plainPath(name);
  if (path !== null) return path;
  const check = checkEntryName(name);
  return check.ok ? check.path : null;
}

/** Tar bytes of the selected entries, fetched frame span by frame span. */
interface Span {
  firstFrame: number;
  lastFrame: number;
  entries: SelectedEntry[];
}

/** How a partial restore reads: the spans of frames to fetch, and how many compressed bytes they hold at most. */
export interface ReadPlan {
  readonly spans: readonly Span[];
  readonly compressedBytes: number;
}

export function planRead(index: SeekIndex, selected: readonly SelectedEntry[]): ReadPlan {
  const spans: Span[] = [];
  for (const one of selected) {
    const [first, last] = framesCovering(index.frames, one.entry.offset, one.end);
    const span = spans.at(-1);
    if (span && first <= span.lastFrame + 1) {
      span.lastFrame = Math.max(span.lastFrame, last);
      span.entries.push(one);
    } else {
      spans.push({ firstFrame: first, lastFrame: last, entries: [one] });
    }
  }
  let compressedBytes = 0;
  for (const span of spans) {
    const first = index.frames[span.firstFrame]!;
    const last = index.frames[span.lastFrame]!;
    compressedBytes += last.compStart + last.compLength - first.compStart;
  }
  return { spans, compressedBytes };
}

export interface FastRead {
  /** The selected entries as a tar stream (ending with the end-of-archive marker). */
  readonly tar: AsyncIterable<Buffer>;
  /** Set when an entry was not where the index said; the stream then ended early, cleanly. */
  readonly failure: () => SeekIndexError | undefined;
}

/**
 * A tar of only the selected entries, each checked before any of its bytes are given out. The
 * extractor applies every check of a full restore to it, `--path` included.
 */
export function readSelected(archive: SeekableArchive, plan: ReadPlan, identityFile: string, log: Logger): FastRead {
  let failure: SeekIndexError | undefined;
  async function* tar(): AsyncGenerator<Buffer> {
    try {
      for (const span of plan.spans) yield* readSpan(archive, span, identityFile, log);
    } catch (err) {
      if (!(err instanceof SeekIndexError)) throw err;
      failure = err;
    }
    yield Buffer.alloc(2 * BLOCK_SIZE);
  }
  return { tar: tar(), failure: () => failure };
}

async function* readSpan(archive: SeekableArchive, span: Span, identityFile: string, log: Logger): AsyncGenerator<Buffer> {
  const { frames } = archive.index;
  const first = frames[span.firstFrame]!;
  const last = frames[span.lastFrame]!;
  const compressed = Readable.from(pieces(archive.plain, first.compStart, last.compStart + last.compLength));
  const decoder = await archive.decompressor.createDecodeStream({ identityFile, log });
  const tar = compressed.pipe(decoder);
  compressed.on("error", (err) => decoder.destroy(err));
  try {
    const cursor = new TarCursor(tar[Symbol.asyncIterator](), first.tarStart);
    for (const { entry, end } of span.entries) {
      await cursor.skipTo(entry.offset);
      yield* checkedEntry(cursor, entry, end);
    }
  } finally {
    compressed.destroy();
    decoder.destroy();
  }
}

/** The entry's bytes [entry.offset, end), after its headers are shown to be the index's entry. */
async function* checkedEntry(cursor: TarCursor, entry: IndexedEntry, end: number): AsyncGenerator<Buffer> {
  const held: Buffer[] = [];
  let found: { name: string; size: number; dataStart: number } | undefined;
  const scanner = new TarScanner((e, dataStart) => (found ??= { name: e.name, size: e.size, dataStart }), entry.offset);
  while (!found) {
    const piece = await cursor.take(end);
    if (!piece) throw new SeekIndexError(`the index puts ${JSON.stringify(entry.name)} at byte ${entry.offset}, but no entry ends its headers before byte ${end}`);
    held.push(piece);
    const scan = scanner.push(piece);
    if (scan.state !== "entries" && !found) throw new SeekIndexError(`the index puts ${JSON.stringify(entry.name)} at byte ${entry.offset}, where the tar has ${scan.state === "end" ? "its end" : "no entry"}`);
  }
  if (found.name !== entry.name) {
    throw new SeekIndexError(`the index puts ${JSON.stringify(entry.name)} at byte ${entry.offset}, where the tar has ${JSON.stringify(found.name)}`);
  }
  if (found.dataStart + paddedSize(found.size) !== end) {
    throw new SeekIndexError(`the index gives ${JSON.stringify(entry.name)} ${end - entry.offset} bytes, its header ${found.dataStart - entry.offset + paddedSize(found.size)}`);
  }
  yield* held;
  for (let piece = await cursor.take(end); piece; piece = await cursor.take(end)) yield piece;
}

/** A decoded tar stream read forward by offset. */
class TarCursor {
  private pending: Buffer | undefined;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    private position: number,
  ) {}

  /** The next bytes before `limit` (null at `limit`, or when the stream ends). */
  async take(limit: number): Promise<Buffer | null> {
    if (this.position >= limit) return null;
    let piece = this.pending;
    this.pending = undefined;
    if (!piece) {
      const next = await this.source.next();
      if (next.done) return null;
      piece = next.value as Buffer;
    }
    if (this.position + piece.length > limit) {
      this.pending = piece.subarray(limit - this.position);
      piece = piece.subarray(0, limit - this.position);
    }
    this.position += piece.length;
    return piece;
  }

  async skipTo(offset: number): Promise<void> {
    if (offset < this.position) throw new SeekIndexError(`entries overlap at byte ${offset}`);
    while (this.position < offset) {
      if (!(await this.take(offset))) throw new SeekIndexError(`the frames end before byte ${offset}`);
    }
  }
}

/** `reader`'s bytes [start, end), a piece at a time. */
async function* pieces(reader: RangeReader, start: number, end: number): AsyncGenerator<Buffer> {
  for (let at = start; at < end; at += READ_PIECE) yield await reader.read(at, Math.min(end, at + READ_PIECE));
}
