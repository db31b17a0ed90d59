/**
 * Finding entries in a tar stream as it goes by, without holding it: the compressor builds a
 * seekable archive's index with it (every entry's offset, name and metadata), and restore uses
 * it to check that an indexed entry is really where the index says. Pushed chunks of any size;
 * only an entry's header blocks and extended-header data are ever held.
 */
import { parsePax } from "./pax.js";
import { decodeHeader, isZeroBlock, makeEntry, type TarEntry } from "./tar-decode.js";
import { BLOCK_SIZE, paddedSize } from "./tar-format.js";

/** What a scan reports of an entry: where it is and what the seek index keeps of it. */
export type ScannedEntry = Pick<TarEntry, "name" | "type" | "mode" | "size" | "mtime" | "offset">;

/** Extended headers larger than this end the scan: no entry sov writes needs them. */
const MAX_META_BYTES = 1024 * 1024;
const NO_RECORDS: ReadonlyMap<string, Buffer> = new Map();

export type ScanOutcome =
  /** Still reading entries. */
  | { state: "entries" }
  /** The end-of-archive marker starts at `offset`. */
  | { state: "end"; offset: number }
  /** Something an index cannot describe entry by entry (a global PAX header, a GNU sparse map, damage). */
  | { state: "unindexable"; reason: string };

export class TarScanner {
  /** Where in the tar the next pushed byte is. */
  private offset: number;
  /** A header block that straddles two chunks, as it is assembled. */
  private readonly block = Buffer.alloc(BLOCK_SIZE);
  private blockFill = 0;
  /** Data bytes still to skip (an entry's content and padding). */
  private skip = 0;
  /** An extended header's data being collected: its type flag, the bytes, how many are still due. */
  private meta: { typeflag: string; data: Buffer; filled: number; padding: number } | undefined;
  /** Where the current entry's first header started, and the extended headers seen for it. */
  private entryStart = -1;
  private longName: string | null = null;
  private longLink: string | null = null;
  private pax: Map<string, Buffer> | null = null;
  private outcome: ScanOutcome = { state: "entries" };

  /**
   * `onEntry` gets each entry (its `offset` is where its first header block starts) and where
   * its data starts. `startOffset`: the tar offset of the first byte pushed, when the scan
   * starts at an entry inside a tar rather than at its beginning.
   */
  constructor(
    private readonly onEntry: (entry: ScannedEntry, dataStart: number) => void,
    startOffset = 0,
  ) {
    this.offset = startOffset;
  }

  get result(): ScanOutcome {
    return this.outcome;
  }

  /** Reads `chunk`, calling onEntry for every entry whose last header block is in it. */
  push(chunk: Uint8Array): ScanOutcome {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let at = 0;
    try {
      while (at < bytes.length && this.outcome.state === "entries") at = this.step(bytes, at);
    } catch (err) {
      this.outcome = { state: "unindexable", reason: err instanceof Error ? err.message : String(err) };
    }
    this.offset += bytes.length;
    return this.outcome;
  }

  /** One piece of work from `at`; returns where the next one starts. */
  private step(bytes: Buffer, at: number): number {
    const here = this.offset + at;
    if (this.skip > 0) {
      const n = Math.min(this.skip, bytes.length - at);
      this.skip -= n;
      return at + n;
    }
    if (this.meta) return this.collectMeta(bytes, at);
    if (this.blockFill === 0 && bytes.length - at >= BLOCK_SIZE) {
      // the whole block is in this chunk (nearly every header): read it where it lies
      this.header(bytes.subarray(at, at + BLOCK_SIZE), here);
      return at + BLOCK_SIZE;
    }
    const n = Math.min(BLOCK_SIZE - this.blockFill, bytes.length - at);
    bytes.copy(this.block, this.blockFill, at, at + n);
    this.blockFill += n;
    if (this.blockFill < BLOCK_SIZE) return at + n;
    this.blockFill = 0;
    this.header(this.block, here + n - BLOCK_SIZE);
    return at + n;
  }

  private header(block: Buffer, offset: number): void {
    if (this.entryStart < 0) this.entryStart = offset;
    if (isZeroBlock(block)) {
      if (this.longName !== null || this.longLink !== null || this.pax !== null) throw new Error(`extended headers at byte ${this.entryStart} are followed by the end of the archive`);
      this.outcome = { state: "end", offset };
      return;
    }
    const raw = decodeHeader(block, offset, "name");
    if (raw.sparseExtended) throw new Error(`a GNU sparse file at byte ${this.entryStart}`);
    switch (raw.typeflag) {
      case "x":
      case "X":
      case "L":
      case "K":
        if (raw.size > MAX_META_BYTES) throw new Error(`an extended header of ${raw.size} bytes at byte ${offset}`);
        this.meta = { typeflag: raw.typeflag, data: Buffer.alloc(raw.size), filled: 0, padding: paddedSize(raw.size) - raw.size };
        return;
      case "g":
        throw new Error(`a global PAX header at byte ${offset} applies to every later entry`);
      case "V":
        throw new Error(`a volume label at byte ${offset}`);
    }
    const entry = makeEntry(raw, this.longName, this.longLink, this.pax ?? NO_RECORDS, this.entryStart);
    this.entryStart = -1;
    this.longName = this.longLink = this.pax = null;
    this.skip = paddedSize(entry.size); // what follows every header, as restore's reader skips it
    this.onEntry(entry, offset + BLOCK_SIZE);
  }

  private collectMeta(bytes: Buffer, at: number): number {
    const meta = this.meta!;
    const n = Math.min(meta.data.length - meta.filled, bytes.length - at);
    bytes.copy(meta.data, meta.filled, at, at + n);
    meta.filled += n;
    if (meta.filled < meta.data.length) return at + n;
    this.meta = undefined;
    this.skip = meta.padding;
    if (meta.typeflag === "L") this.longName = nulTerminated(meta.data);
    else if (meta.typeflag === "K") this.longLink = nulTerminated(meta.data);
    else {
      this.pax ??= new Map();
      for (const [key, value] of parsePax(meta.data, this.entryStart)) this.pax.set(key, value);
    }
    return at + n;
  }
}

function nulTerminated(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString("latin1", 0, end === -1 ? data.length : end);
}
