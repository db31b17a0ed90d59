import { Readable } from "node:stream";
import { errorMessage } from "@sov/core/errors";
import { BLOCK_SIZE as BLOCK, decodeHeader, displayName, isZeroBlock, makeEntry, parsePax, TarFormatError, TYPE, type HeaderStrings, type RawHeader, type TarEntry } from "@sov/core/archive";
import { chunksOf } from "./chunks.js";
import { stageOf } from "./stage.js";

/**
 * The most the extended headers (PAX, GNU long names) in front of one entry may hold together,
 * and how many there may be: GNU tar writes at most a handful. Beyond this the archive is
 * hostile, built to keep restore busy and growing (issue 16).
 */
const MAX_META_BYTES = 16 * 1024 * 1024;
const MAX_META_HEADERS = 32;
const EMPTY = Buffer.alloc(0);
const NO_RECORDS: ReadonlyMap<string, Buffer> = new Map();
/** The type flags of headers that describe the next entry or none (PAX, GNU long names, a volume label), by byte. */
const EXTENDED = new Uint8Array(256);
for (const flag of "xXgLKV") EXTENDED[flag.charCodeAt(0)] = 1;
const SPARSE = "S".charCodeAt(0);

/**
 * Reading the archive failed: a decoder reported damage (age authentication, a compressor
 * checksum, a wrong identity), the file could not be read, or the tar inside is malformed or
 * truncated. `stage` says which, and leads the message.
 */
export class ArchiveReadError extends Error {
  override name = "ArchiveReadError";
  constructor(
    readonly stage: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${stage}: ${detail}`, options);
  }
}

const TAR_STAGE = "reading the tar";

/**
 * A pull parser for tar streams (ustar, GNU and PAX formats). It exists, rather than
 * tar-stream's extract, because a backup check must know the archive really ended: tar-stream
 * accepts a stream cut off between two entries as complete, and decodes names as UTF-8.
 *
 * `next()` gives the next entry (skipping what is left of the previous one's data), `read()`
 * its data a piece at a time, without copying; null from `next()` means both end-of-archive
 * zero blocks were seen, and `drain()` then reads the source to its end. Every failure is an
 * ArchiveReadError.
 */
export class TarReader {
  private readonly source: AsyncIterator<Buffer>;
  private chunk: Buffer = EMPTY;
  private pos = 0;
  private sourceDone = false;
  /** Bytes of the tar consumed so far. */
  private consumed = 0;
  private dataLeft = 0;
  private padLeft = 0;
  private current: TarEntry | null = null;
  private globalPax = new Map<string, Buffer>();
  private finished = false;

  /** `strings`: which of each header's strings the entries carry (decodeHeader's); a reader that never looks at owners leaves them out. */
  constructor(
    source: Readable | AsyncIterable<Buffer>,
    private readonly strings: HeaderStrings = "all",
  ) {
    this.source = source instanceof Readable ? chunksOf(source) : source[Symbol.asyncIterator]();
  }

  /** The tar stream's byte count so far. */
  get offset(): number {
    return this.consumed;
  }

  async next(): Promise<TarEntry | null> {
    if (this.finished) return null;
    // most entries' padding and headers are in the chunk in hand: no promise is made for them
    if (!this.skipRestBuffered()) await this.skipRest();
    let longName: string | null = null;
    let longLink: string | null = null;
    let pax: Map<string, Buffer> | null = null;
    let firstOffset = -1;
    const budget = { headers: 0, bytes: 0 };
    for (;;) {
      const offset = this.consumed;
      const block = this.chunk.length - this.pos >= BLOCK ? this.takeBuffered(BLOCK) : await this.readBlock();
      if (block === null) {
        if (firstOffset !== -1) this.fail(`the tar ends after extended headers at byte ${firstOffset} (truncated archive)`);
        const last = this.current ? ` after ${displayName(this.current.name)}` : "";
        this.fail(`the tar ends without its end-of-archive marker${last}, at byte ${offset} (truncated archive)`);
      }
      if (firstOffset === -1) firstOffset = offset;
      if (isZeroBlock(block)) {
        if (longName !== null || longLink !== null || pax !== null) this.fail(`extended headers at byte ${firstOffset} are followed by the end of the archive`);
        const second = await this.readBlock();
        if (second === null) this.fail(`the tar ends after a single zero block at byte ${offset} (truncated archive)`);
        if (!isZeroBlock(second)) this.fail(`a lone zero block at byte ${offset} inside the archive (corrupt tar)`);
        this.finished = true;
        this.current = null;
        return null;
      }
      let raw;
      try {
        raw = decodeHeader(block, offset, this.strings);
      } catch (err) {
        this.fail(errorMessage(err));
      }
      if (EXTENDED[raw.typeflag.charCodeAt(0)]) this.chargeMeta(budget, raw.size, firstOffset);
      switch (raw.typeflag) {
        case "x":
        case "X":
          pax ??= new Map();
          for (const [key, value] of parsePaxSafe(await this.readMeta(raw.size, offset), offset, this)) pax.set(key, value);
          continue;
        case "g":
          for (const [key, value] of parsePaxSafe(await this.readMeta(raw.size, offset), offset, this)) {
            // copied: it outlives the chunk it came in, whose memory a source may reuse
            if (value.length) this.globalPax.set(key, Buffer.from(value));
            else this.globalPax.delete(key);
          }
          continue;
        case "L":
          longName = nulTerminated(await this.readMeta(raw.size, offset));
          continue;
        case "K":
          longLink = nulTerminated(await this.readMeta(raw.size, offset));
          continue;
        case "V": // a volume label: no file
          await this.skip(padded(raw.size));
          continue;
      }
      if (raw.sparseExtended) await this.skipSparseExtensions();
      const records = this.globalPax.size ? new Map([...this.globalPax, ...(pax ?? [])]) : (pax ?? NO_RECORDS);
      return this.begin(raw, longName, longLink, records, firstOffset);
    }
  }

  /**
   * next(), without a promise, for the common entry: a lone header (no extended headers, no
   * global PAX records) that the chunk in hand holds, with what is left of the entry before.
   * undefined when only next() can tell; next() then goes on from where this stopped.
   */
  nextBuffered(): TarEntry | null | undefined {
    if (this.finished) return null;
    if (!this.skipRestBuffered() || this.chunk.length - this.pos < BLOCK || this.globalPax.size !== 0) return undefined;
    // left to next(): a NUL first byte (the end-of-archive marker, or a header without a name),
    // extended headers, and GNU sparse files, whose map may go on in more blocks
    const flag = this.chunk[this.pos + TYPE[0]]!;
    if (this.chunk[this.pos] === 0 || EXTENDED[flag] || flag === SPARSE) return undefined;
    const offset = this.consumed;
    // taken before it is decoded: a refused header leaves the reader past it, as next() does
    const block = this.takeBuffered(BLOCK);
    let raw: RawHeader;
    try {
      raw = decodeHeader(block, offset, this.strings);
    } catch (err) {
      this.fail(errorMessage(err));
    }
    return this.begin(raw, null, null, NO_RECORDS, offset);
  }

  /** The entry a header (and what came before it) makes, now the current one. */
  private begin(raw: RawHeader, longName: string | null, longLink: string | null, records: ReadonlyMap<string, Buffer>, offset: number): TarEntry {
    let entry: TarEntry;
    try {
      entry = makeEntry(raw, longName, longLink, records, offset);
    } catch (err) {
      this.fail(errorMessage(err));
    }
    this.current = entry;
    this.dataLeft = entry.size;
    this.padLeft = padded(entry.size) - entry.size;
    return entry;
  }

  /**
   * The next piece of the current entry's data, at most `max` bytes, or null when it is all
   * read. The piece is a view into a chunk the source pushed, not a copy (a stream never reuses
   * a buffer it pushed, so the view stays valid).
   */
  async read(max = Number.MAX_SAFE_INTEGER): Promise<Buffer | null> {
    if (this.dataLeft === 0) return null;
    if (this.pos === this.chunk.length && !(await this.pull())) {
      this.fail(`the tar ends inside the data of ${displayName(this.current?.name ?? "")} (truncated archive)`);
    }
    return this.readBuffered(max)!;
  }

  /**
   * read(), without a promise, when it needs nothing beyond the chunk in hand: the next piece,
   * or null at the end of the entry's data; undefined when only read() can tell.
   */
  readBuffered(max = Number.MAX_SAFE_INTEGER): Buffer | null | undefined {
    if (this.dataLeft === 0) return null;
    if (this.pos === this.chunk.length) return undefined;
    const n = Math.min(max, this.dataLeft, this.chunk.length - this.pos);
    const piece = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.consumed += n;
    this.dataLeft -= n;
    return piece;
  }

  /**
   * Reads the source to its very end after the end-of-archive marker, so that the decoders see
   * their last bytes and check them (age's final chunk, the compressor's checksum). Returns how
   * many bytes followed the marker (GNU tar pads to its record size).
   */
  async drain(): Promise<number> {
    let trailing = this.chunk.length - this.pos;
    this.pos = this.chunk.length;
    while (await this.pull()) {
      trailing += this.chunk.length;
      this.pos = this.chunk.length;
    }
    this.consumed += trailing;
    return trailing;
  }

  /** Stops reading: destroys the source so its decoders and file handle are released. */
  async close(): Promise<void> {
    this.finished = true;
    await this.source.return?.().catch(() => undefined);
  }

  /** Skips what is left of the current entry if the chunk in hand holds it; false if it does not. */
  private skipRestBuffered(): boolean {
    const n = this.dataLeft + this.padLeft;
    if (n > this.chunk.length - this.pos) return false;
    this.pos += n;
    this.consumed += n;
    this.dataLeft = 0;
    this.padLeft = 0;
    return true;
  }

  /** `n` bytes the chunk in hand is known to hold, as a view. */
  private takeBuffered(n: number): Buffer {
    const out = this.chunk.subarray(this.pos, this.pos + n);
    this.pos += n;
    this.consumed += n;
    return out;
  }

  private async skipRest(): Promise<void> {
    if (this.dataLeft || this.padLeft) {
      const n = this.dataLeft + this.padLeft;
      this.dataLeft = 0;
      this.padLeft = 0;
      await this.skip(n, true);
    }
  }

  private async skipSparseExtensions(): Promise<void> {
    for (;;) {
      const block = await this.readBlock();
      if (block === null) this.fail("the tar ends inside a sparse file's header (truncated archive)");
      if (block[504] === 0) return;
    }
  }

  /** Counts one extended header against the entry's budget; fails once it is spent. */
  private chargeMeta(budget: { headers: number; bytes: number }, size: number, entryOffset: number): void {
    budget.headers++;
    budget.bytes += size;
    if (budget.headers > MAX_META_HEADERS) {
      this.fail(`more than ${MAX_META_HEADERS} extended headers in a row at byte ${entryOffset}; no tar writes that many for one entry (hostile archive)`);
    }
    if (budget.bytes > MAX_META_BYTES) {
      this.fail(`the extended headers at byte ${entryOffset} hold more than ${MAX_META_BYTES} bytes; no real entry needs that many (hostile archive)`);
    }
  }

  private async readMeta(size: number, offset: number): Promise<Buffer> {
    if (size > MAX_META_BYTES) this.fail(`an extended header of ${size} bytes at byte ${offset} is larger than any real one`);
    const data = await this.readExact(padded(size));
    if (data === null) this.fail(`the tar ends inside an extended header at byte ${offset} (truncated archive)`);
    return data.subarray(0, size);
  }

  private readBlock(): Promise<Buffer | null> {
    return this.readExact(BLOCK);
  }

  /** Exactly `n` bytes (a view when one chunk holds them), or null at a clean end of stream. */
  private async readExact(n: number): Promise<Buffer | null> {
    if (n === 0) return EMPTY;
    if (this.chunk.length - this.pos >= n) return this.takeBuffered(n);
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      if (this.pos === this.chunk.length && !(await this.pull())) {
        if (have === 0) return null;
        this.fail(`the tar ends inside a header at byte ${this.consumed} (truncated archive)`);
      }
      const take = Math.min(n - have, this.chunk.length - this.pos);
      parts.push(this.chunk.subarray(this.pos, this.pos + take));
      this.pos += take;
      have += take;
    }
    this.consumed += n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private async skip(n: number, inData = false): Promise<void> {
    while (n > 0) {
      if (this.pos === this.chunk.length && !(await this.pull())) {
        const where = inData && this.current ? `the data of ${displayName(this.current.name)}` : "the archive";
        this.fail(`the tar ends inside ${where} (truncated archive)`);
      }
      const take = Math.min(n, this.chunk.length - this.pos);
      this.pos += take;
      this.consumed += take;
      n -= take;
    }
  }

  /** Loads the next non-empty chunk; false at the end of the stream. */
  private async pull(): Promise<boolean> {
    if (this.sourceDone) return false;
    for (;;) {
      let res: IteratorResult<Buffer>;
      try {
        res = await this.source.next();
      } catch (err) {
        this.sourceDone = true;
        throw new ArchiveReadError(stageOf(err) ?? "reading the archive", errorMessage(err), { cause: err });
      }
      if (res.done) {
        this.sourceDone = true;
        this.chunk = EMPTY;
        this.pos = 0;
        return false;
      }
      if (res.value.length === 0) continue;
      this.chunk = typeof res.value === "string" ? Buffer.from(res.value, "latin1") : res.value;
      this.pos = 0;
      return true;
    }
  }

  /** @internal */
  fail(message: string): never {
    throw new ArchiveReadError(TAR_STAGE, message);
  }
}

function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK;
}

function nulTerminated(data: Buffer): string {
  const end = data.indexOf(0);
  return data.toString("latin1", 0, end === -1 ? data.length : end);
}

function parsePaxSafe(data: Buffer, offset: number, reader: TarReader): Map<string, Buffer> {
  try {
    return parsePax(data, offset);
  } catch (err) {
    if (err instanceof TarFormatError) reader.fail(err.message);
    throw err;
  }
}
