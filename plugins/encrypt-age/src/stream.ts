import { createCipheriv, createDecipheriv, hkdfSync } from "node:crypto";

/**
 * The age payload (https://age-encryption.org/v1, "Payload"): a 16-byte nonce, then the
 * plaintext in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under a key derived from the
 * file key and that nonce. The chunk nonce is an 11-byte big-endian counter and a flag byte
 * that is 1 only on the last chunk. The last chunk may be short, and may be empty only when it
 * is the only one; a plaintext that fills its last chunk ends on a full chunk flagged last.
 *
 * node:crypto does the sealing: it is several times faster than a pure JS ChaCha20.
 */
export const NONCE_SIZE = 16;
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const SEALED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;

const CIPHER = "chacha20-poly1305";

/** Raised for a payload that fails to decrypt: the message says what a person should know. */
export class PayloadError extends Error {
  override readonly name = "PayloadError";
}

export function derivePayloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", fileKey, nonce, "payload", 32));
}

function chunkNonce(counter: number, last: boolean): Buffer {
  // 48 bits of counter are 16 EiB of payload; the upper 5 counter bytes stay zero.
  if (counter >= 2 ** 48) throw new PayloadError("age payload is too large (more than 2^48 chunks)");
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/**
 * Opens one sealed chunk, given as its ciphertext pieces and its tag: the plaintext pieces, or
 * undefined if it fails to authenticate under this counter and last flag. Nothing is released
 * before the tag verified.
 */
export function openChunk(key: Buffer, counter: number, last: boolean, ciphertext: readonly Buffer[], tag: Buffer): Buffer[] | undefined {
  const decipher = createDecipheriv(CIPHER, key, chunkNonce(counter, last), { authTagLength: TAG_SIZE });
  decipher.setAuthTag(tag);
  const pieces = ciphertext.map((piece) => decipher.update(piece));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return pieces;
}

/** Pieces at least this large are queued as they are; smaller views of large buffers are copied. */
const RETAIN_AS_VIEW = 4096;

/** Bytes waiting to be processed, kept as the buffers they arrived in (no copy but for small views). */
class ByteQueue {
  /** Slots before #head are consumed and cleared, so their buffers can be collected. */
  #pieces: Array<Buffer | undefined> = [];
  #head = 0;
  length = 0;

  push(piece: Buffer): void {
    if (piece.length === 0) return;
    // A small view of a large buffer is copied: a compressor's output for a run of zeros is a
    // few bytes per 128 KiB block, and ~650 such views held for one 64 KiB chunk kept 80 MiB.
    if (piece.length < RETAIN_AS_VIEW && piece.buffer.byteLength > 2 * RETAIN_AS_VIEW) piece = Buffer.from(piece);
    this.#pieces.push(piece);
    this.length += piece.length;
  }

  /** Removes the first `n` bytes, as views of the queued buffers. */
  take(n: number): Buffer[] {
    const out: Buffer[] = [];
    while (n > 0) {
      const piece = this.#pieces[this.#head]!;
      if (piece.length <= n) {
        out.push(piece);
        // A consumed slot must not keep its buffer alive: the sealer always holds the last
        // chunk back, so the queue rarely empties and compaction alone would retain ~1024
        // source buffers (a 1 GiB run peaked at 1 GiB RSS before this).
        this.#pieces[this.#head] = undefined;
        this.#head++;
        n -= piece.length;
        this.length -= piece.length;
      } else {
        out.push(piece.subarray(0, n));
        this.#pieces[this.#head] = piece.subarray(n);
        this.length -= n;
        n = 0;
      }
    }
    // Drop consumed slots once in a while, so tiny writes do not make the queue grow.
    if (this.#head > 1024 || this.#head === this.#pieces.length) {
      this.#pieces = this.#pieces.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  clear(): void {
    this.#pieces = [];
    this.#head = 0;
    this.length = 0;
  }
}

/** Output is pushed in pieces of about this size: fewer, larger writes downstream. */
export const OUTPUT_BATCH_SIZE = 1024 * 1024;

/** Output collected until it is worth one push downstream. */
export class OutputBatch {
  #pieces: Buffer[] = [];
  size = 0;

  add(piece: Buffer): void {
    if (piece.length === 0) return;
    this.#pieces.push(piece);
    this.size += piece.length;
  }

  /** Everything collected, as the pieces it came in (no copy). */
  drainPieces(): Buffer[] {
    const pieces = this.#pieces;
    this.#pieces = [];
    this.size = 0;
    return pieces;
  }

  /** Everything collected, as one buffer; undefined if nothing was. */
  drain(): Buffer | undefined {
    if (this.size === 0) return undefined;
    const out = this.#pieces.length === 1 ? this.#pieces[0]! : Buffer.concat(this.#pieces, this.size);
    this.#pieces = [];
    this.size = 0;
    return out;
  }
}

/** Splits pieces totalling `n + rest` bytes after the first `n`. */
function splitPieces(pieces: Buffer[], n: number): [Buffer[], Buffer[]] {
  const head: Buffer[] = [];
  let i = 0;
  for (; i < pieces.length && n > 0; i++) {
    const piece = pieces[i]!;
    if (piece.length <= n) {
      head.push(piece);
      n -= piece.length;
    } else {
      head.push(piece.subarray(0, n));
      return [head, [piece.subarray(n), ...pieces.slice(i + 1)]];
    }
  }
  return [head, pieces.slice(i)];
}

/**
 * Seals a plaintext into an age payload. Write with `update()`, finish with `final()`: a full
 * chunk is sealed only once more data follows it, since only then is it known not to be last.
 */
export class PayloadSealer {
  readonly #key: Buffer;
  readonly #pending = new ByteQueue();
  #nonce: Buffer | undefined;
  #counter = 0;
  #finished = false;

  constructor(fileKey: Uint8Array, nonce: Uint8Array) {
    this.#key = derivePayloadKey(fileKey, nonce);
    this.#nonce = Buffer.from(nonce);
  }

  update(plaintext: Buffer, out: OutputBatch): void {
    if (this.#finished) throw new Error("PayloadSealer: update() after final()");
    this.#emitNonce(out);
    this.#pending.push(plaintext);
    while (this.#pending.length > CHUNK_SIZE) this.#sealChunk(CHUNK_SIZE, false, out);
  }

  final(out: OutputBatch): void {
    if (this.#finished) throw new Error("PayloadSealer: final() called twice");
    this.#emitNonce(out);
    this.#sealChunk(this.#pending.length, true, out);
    this.dispose();
  }

  /** Forgets the key; the sealer is unusable afterwards. */
  dispose(): void {
    this.#finished = true;
    this.#key.fill(0);
    this.#pending.clear();
  }

  #emitNonce(out: OutputBatch): void {
    if (!this.#nonce) return;
    out.add(this.#nonce);
    this.#nonce = undefined;
  }

  #sealChunk(size: number, last: boolean, out: OutputBatch): void {
    const cipher = createCipheriv(CIPHER, this.#key, chunkNonce(this.#counter, last), { authTagLength: TAG_SIZE });
    for (const piece of this.#pending.take(size)) out.add(cipher.update(piece));
    cipher.final();
    out.add(cipher.getAuthTag());
    this.#counter++;
  }
}

/**
 * Opens an age payload (nonce first) the way age's reference reader does, releasing a chunk's
 * plaintext only after its tag verified. Failures throw PayloadError; what was released before
 * stays valid plaintext.
 */
export class PayloadOpener {
  #fileKey: Buffer | undefined;
  #key: Buffer | undefined;
  readonly #pending = new ByteQueue();
  #counter = 0;

  constructor(fileKey: Uint8Array) {
    this.#fileKey = Buffer.from(fileKey);
  }

  update(ciphertext: Buffer, out: OutputBatch): void {
    this.#pending.push(ciphertext);
    if (!this.#deriveKey()) return;
    // A full chunk with more bytes after it must be a non-last chunk.
    while (this.#pending.length > SEALED_CHUNK_SIZE) this.#openChunk(SEALED_CHUNK_SIZE, true, out);
  }

  final(out: OutputBatch): void {
    if (!this.#deriveKey()) throw new PayloadError("archive is truncated: it ends before the payload nonce");
    const size = this.#pending.length;
    const chunk = this.#counter + 1;
    if (size === 0) {
      throw new PayloadError(
        this.#counter === 0
          ? "archive is truncated: the payload has no chunks"
          : `archive is truncated: it ends after chunk ${this.#counter}, which is not marked last`,
      );
    }
    if (size < TAG_SIZE) throw new PayloadError(`archive is truncated: chunk ${chunk} is shorter than its authentication tag`);
    if (size === TAG_SIZE && this.#counter > 0) {
      // Even a valid empty last chunk is refused after data: age never writes one.
      throw new PayloadError(`archive is corrupt: chunk ${chunk} is an empty final chunk after data`);
    }
    this.#openChunk(size, false, out);
    this.dispose();
  }

  /** Forgets the keys; the opener is unusable afterwards. */
  dispose(): void {
    this.#fileKey?.fill(0);
    this.#fileKey = undefined;
    this.#key?.fill(0);
    this.#pending.clear();
  }

  /** Derives the payload key once the nonce is in; false while it is still incomplete. */
  #deriveKey(): boolean {
    if (this.#key) return true;
    if (!this.#fileKey) throw new Error("PayloadOpener used after dispose()");
    if (this.#pending.length < NONCE_SIZE) return false;
    this.#key = derivePayloadKey(this.#fileKey, Buffer.concat(this.#pending.take(NONCE_SIZE)));
    this.#fileKey.fill(0);
    this.#fileKey = undefined;
    return true;
  }

  #openChunk(size: number, moreFollows: boolean, out: OutputBatch): void {
    const chunk = this.#counter + 1;
    const [ciphertext, tagPieces] = splitPieces(this.#pending.take(size), size - TAG_SIZE);
    const tag = Buffer.concat(tagPieces, TAG_SIZE);
    const full = size === SEALED_CHUNK_SIZE;
    // Only a full chunk can be either; try the likelier flag first.
    const plaintext =
      this.#tryOpen(ciphertext, tag, !moreFollows) ?? (full ? this.#tryOpen(ciphertext, tag, moreFollows) : undefined);
    if (!plaintext) {
      throw new PayloadError(
        moreFollows
          ? `archive is corrupt: chunk ${chunk} failed authentication`
          : `archive is corrupt or truncated: chunk ${chunk}, the last one, failed authentication`,
      );
    }
    for (const piece of plaintext.pieces) out.add(piece);
    this.#counter++;
    if (plaintext.last && moreFollows) throw new PayloadError(`archive is corrupt: data follows the final chunk (${chunk})`);
    if (!plaintext.last && !moreFollows) {
      throw new PayloadError(`archive is truncated: it ends after chunk ${chunk}, which is not marked last`);
    }
  }

  #tryOpen(ciphertext: Buffer[], tag: Buffer, last: boolean): { pieces: Buffer[]; last: boolean } | undefined {
    const pieces = openChunk(this.#key!, this.#counter, last, ciphertext, tag);
    return pieces && { pieces, last };
  }
}
