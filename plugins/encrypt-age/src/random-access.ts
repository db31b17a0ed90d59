import { RunError, type DecodeContext, type RangeReader } from "@sov/core";
import { explainDecryptError, readDecodeIdentities } from "./decrypt.js";
import { HeaderCollector, MAX_HEADER_SIZE, openHeader, type HeaderSplit } from "./header.js";
import { CHUNK_SIZE, derivePayloadKey, NONCE_SIZE, openChunk, PayloadError, SEALED_CHUNK_SIZE, TAG_SIZE } from "./stream.js";

/**
 * Random access to an age file's plaintext. Every 64 KiB of plaintext is its own sealed chunk
 * at a fixed offset after the header and the payload nonce (see stream.ts), so the plaintext
 * size follows from the file size, and a read opens only the chunks that hold its bytes.
 *
 * A read authenticates only the chunks it reads: damage elsewhere in the file goes unnoticed
 * until that part is read. The final chunk is sealed with the last flag, so a read that
 * includes it also proves the file was not cut at a chunk boundary; one that stops before it
 * does not.
 *
 * Errors are those of the stream decoder: no or a wrong identity file is a ConfigError, an
 * unusable archive a RunError (at open for the header and the size, at read for a chunk).
 */
export async function openAgeRange(ciphertext: RangeReader, ctx: DecodeContext): Promise<RangeReader> {
  const keys = await readDecodeIdentities(ctx);
  try {
    const { header, rest } = await readHeader(ciphertext);
    const fileKey = await openHeader(header, keys.identities);
    try {
      const layout = payloadLayout(ciphertext.size, header.length);
      const nonce = await readNonce(ciphertext, header.length, rest);
      return new PlaintextReader(ciphertext, derivePayloadKey(fileKey, nonce), layout);
    } finally {
      fileKey.fill(0);
    }
  } catch (err) {
    throw explainDecryptError(err, keys);
  }
}

/**
 * The header, and what followed it in the read that completed it. The first read holds any
 * real header; with MAX_HEADER_SIZE bytes and no MAC line yet, the collector (which decides as
 * in the stream decoder) needs one byte more to accept or refuse it.
 */
async function readHeader(ciphertext: RangeReader): Promise<HeaderSplit> {
  const collector = new HeaderCollector();
  let read = 0;
  for (const limit of [MAX_HEADER_SIZE, MAX_HEADER_SIZE + 1]) {
    const end = Math.min(limit, ciphertext.size);
    if (end === read) break;
    const split = collector.add(await ciphertext.read(read, end));
    if (split) return split;
    read = end;
  }
  throw collector.endError();
}

/** The payload nonce: usually already read with the header. */
async function readNonce(ciphertext: RangeReader, headerSize: number, rest: Buffer): Promise<Buffer> {
  if (rest.length >= NONCE_SIZE) return rest.subarray(0, NONCE_SIZE);
  return ciphertext.read(headerSize, headerSize + NONCE_SIZE);
}

interface PayloadLayout {
  /** Where the first sealed chunk starts: past the header and the nonce. */
  readonly start: number;
  readonly chunks: number;
  readonly plaintextSize: number;
}

/**
 * The chunks a payload of this size holds: all full but the last, which is short, or full, or
 * empty if it is the only one. Any other size is a PayloadError.
 */
function payloadLayout(fileSize: number, headerSize: number): PayloadLayout {
  const start = headerSize + NONCE_SIZE;
  const sealedSize = fileSize - start;
  if (sealedSize < 0) throw new PayloadError("archive is truncated or damaged: it ends before the payload nonce");
  const chunks = Math.max(1, Math.ceil(sealedSize / SEALED_CHUNK_SIZE));
  const lastSize = sealedSize - (chunks - 1) * SEALED_CHUNK_SIZE;
  if (lastSize < TAG_SIZE) {
    throw new PayloadError(`archive is truncated or damaged: chunk ${chunks} is shorter than its authentication tag`);
  }
  if (lastSize === TAG_SIZE && chunks > 1) {
    throw new PayloadError(`archive is truncated or damaged: chunk ${chunks} is an empty final chunk after data`);
  }
  return { start, chunks, plaintextSize: sealedSize - chunks * TAG_SIZE };
}

/** The plaintext view. It keeps the payload key for as long as it is referenced. */
class PlaintextReader implements RangeReader {
  readonly size: number;
  readonly #ciphertext: RangeReader;
  readonly #key: Buffer;
  readonly #layout: PayloadLayout;

  constructor(ciphertext: RangeReader, key: Buffer, layout: PayloadLayout) {
    this.size = layout.plaintextSize;
    this.#ciphertext = ciphertext;
    this.#key = key;
    this.#layout = layout;
  }

  async read(start: number, end: number): Promise<Buffer> {
    checkRange(start, end, this.size);
    if (start === end) return Buffer.alloc(0);
    const first = Math.floor(start / CHUNK_SIZE);
    const last = Math.floor((end - 1) / CHUNK_SIZE);
    const sealed = await this.#readSealed(first, last);
    const plaintext: Buffer[] = [];
    for (let index = first; index <= last; index++) {
      const at = (index - first) * SEALED_CHUNK_SIZE;
      plaintext.push(...this.#open(index, sealed.subarray(at, at + SEALED_CHUNK_SIZE)));
    }
    const offset = first * CHUNK_SIZE;
    return Buffer.concat(plaintext).subarray(start - offset, end - offset);
  }

  /** Chunks first..last, sealed, in one read. */
  async #readSealed(first: number, last: number): Promise<Buffer> {
    const from = this.#layout.start + first * SEALED_CHUNK_SIZE;
    const to = Math.min(this.#layout.start + (last + 1) * SEALED_CHUNK_SIZE, this.#ciphertext.size);
    const sealed = await this.#ciphertext.read(from, to);
    // A reader that breaks its contract must not pass for a damaged archive.
    if (sealed.length !== to - from) throw new Error(`the archive reader returned ${sealed.length} bytes for [${from}, ${to})`);
    return sealed;
  }

  #open(index: number, sealed: Buffer): Buffer[] {
    const tagAt = sealed.length - TAG_SIZE;
    const last = index === this.#layout.chunks - 1;
    const plaintext = openChunk(this.#key, index, last, [sealed.subarray(0, tagAt)], sealed.subarray(tagAt));
    if (!plaintext) {
      throw new RunError(`age payload chunk ${index + 1} failed to authenticate: the archive is damaged or was changed`);
    }
    return plaintext;
  }
}

function checkRange(start: number, end: number, size: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || start > end || end > size) {
    throw new RangeError(`cannot read [${start}, ${end}) of ${size} plaintext bytes`);
  }
}
