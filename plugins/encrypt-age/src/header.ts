import { Decrypter, Encrypter, type Identity, type Recipient } from "age-encryption";
import { NONCE_SIZE, TAG_SIZE } from "./stream.js";

/**
 * The age header (https://age-encryption.org/v1, "Header"): the version line, one stanza per
 * recipient, and a MAC line `--- <base64 HMAC>\n`. age-encryption writes and checks it, so it
 * stays the one source of truth for the header encoding, the MAC and its own stanza types (the
 * ssh ones, which it lacks, are Recipient/Identity objects from ssh-stanzas.ts); this module
 * only frames it.
 */
export const MAX_HEADER_SIZE = 64 * 1024;
const VERSION_LINE = Buffer.from("age-encryption.org/v1\n");
const ARMOR_MARKER = "-----BEGIN";
const MAC_LINE_START = "---";
const NEWLINE = 0x0a;

/** The header is unusable: malformed, over the size cap, or its MAC does not match. */
export class HeaderError extends Error {
  override readonly name = "HeaderError";
}

/** None of the identities unwraps any stanza of the header. */
export class NoMatchingIdentityError extends Error {
  override readonly name = "NoMatchingIdentityError";
}

export interface SealedHeader {
  /** The header bytes, through the MAC line's newline. */
  readonly header: Buffer;
  /** The payload nonce age-encryption chose. */
  readonly nonce: Buffer;
  /** The file key; the caller zeroes it once the payload key is derived. */
  readonly fileKey: Buffer;
  /** age-encryption's payload (nonce and tag) for an empty plaintext, to check ours against. */
  readonly emptyPayload: Buffer;
}

/**
 * Makes a fresh file key and its header for `recipients` (age-encryption's recipient strings,
 * or Recipient objects such as the ssh ones). age-encryption encrypts an empty plaintext; a
 * pseudo-recipient that adds no stanza hands us the file key on the way.
 */
export async function sealHeader(recipients: readonly (string | Recipient)[]): Promise<SealedHeader> {
  const encrypter = new Encrypter();
  for (const recipient of recipients) encrypter.addRecipient(recipient);
  let captured: Uint8Array | undefined;
  const keyCapture: Recipient = {
    wrapFileKey(fileKey) {
      captured = fileKey;
      return [];
    },
  };
  encrypter.addRecipient(keyCapture);
  const file = Buffer.from(await encrypter.encrypt(new Uint8Array(0)));
  if (!captured || captured.length !== 16) throw new Error("age-encryption did not hand over a 16-byte file key");
  const fileKey = Buffer.from(captured);
  // encrypt() has derived the MAC and payload keys and is done with its key: wipe it.
  captured.fill(0);

  const headerEnd = findHeaderEnd(file, 0);
  // An empty plaintext is one empty final chunk: the nonce, then a tag alone.
  if (headerEnd < 0 || file.length !== headerEnd + NONCE_SIZE + TAG_SIZE) {
    fileKey.fill(0);
    throw new Error(`age-encryption produced an unexpected layout (${file.length} bytes, header end ${headerEnd})`);
  }
  return {
    header: file.subarray(0, headerEnd),
    nonce: file.subarray(headerEnd, headerEnd + NONCE_SIZE),
    fileKey,
    emptyPayload: file.subarray(headerEnd),
  };
}

/**
 * The offset just past the MAC line, or -1 if it is not in `buf`. Scans whole lines from
 * `from` (a line start). In a well-formed header the first line starting with `---` is the MAC
 * line: stanza lines start with `-> ` and body lines are base64.
 */
export function findHeaderEnd(buf: Uint8Array, from: number): number {
  let lineStart = from;
  for (;;) {
    const newline = buf.indexOf(NEWLINE, lineStart);
    if (newline < 0) return -1;
    if (startsWithMacMarker(buf, lineStart, newline)) return newline + 1;
    lineStart = newline + 1;
  }
}

function startsWithMacMarker(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start < MAC_LINE_START.length) return false;
  for (let i = 0; i < MAC_LINE_START.length; i++) if (buf[start + i] !== MAC_LINE_START.charCodeAt(i)) return false;
  return true;
}

export interface HeaderSplit {
  readonly header: Buffer;
  /** Bytes after the header in the chunk that completed it. */
  readonly rest: Buffer;
}

/**
 * Collects the start of an age file until the header is complete. Fails early on a file that
 * is not binary age, and on a header larger than MAX_HEADER_SIZE.
 */
export class HeaderCollector {
  #buffer = Buffer.alloc(1024);
  #length = 0;
  /** Where the next unscanned line starts. */
  #scanFrom = 0;

  /** Adds a chunk; returns the header and what follows once the MAC line is in. */
  add(chunk: Buffer): HeaderSplit | undefined {
    const before = this.#length;
    this.#append(chunk.subarray(0, MAX_HEADER_SIZE + 1 - before));
    const buffered = this.#buffer.subarray(0, this.#length);
    this.#checkStart(buffered);
    const end = findHeaderEnd(buffered, this.#scanFrom);
    if (end >= 0) return { header: Buffer.from(buffered.subarray(0, end)), rest: chunk.subarray(end - before) };
    if (this.#length > MAX_HEADER_SIZE) {
      throw new HeaderError(`age header is invalid or corrupt: no MAC line in the first ${MAX_HEADER_SIZE} bytes`);
    }
    this.#scanFrom = buffered.lastIndexOf(NEWLINE) + 1;
    return undefined;
  }

  /** What to say when the input ends before the header does. */
  endError(): HeaderError {
    if (this.#length === 0) return new HeaderError("archive is truncated: it is empty");
    return new HeaderError(`archive is truncated: it ends inside the age header (${this.#length} bytes)`);
  }

  #append(bytes: Buffer): void {
    if (this.#length + bytes.length > this.#buffer.length) {
      const grown = Buffer.alloc(Math.max(this.#buffer.length * 2, this.#length + bytes.length));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    bytes.copy(this.#buffer, this.#length);
    this.#length += bytes.length;
  }

  #checkStart(buffered: Buffer): void {
    const n = Math.min(buffered.length, VERSION_LINE.length);
    if (buffered.subarray(0, n).equals(VERSION_LINE.subarray(0, n))) return;
    const start = buffered.subarray(0, 64).toString("latin1").trimStart();
    if (start.startsWith(ARMOR_MARKER)) {
      throw new HeaderError("archive is ASCII-armored; sov reads binary age files: decrypt it with `age -d` instead");
    }
    if (ARMOR_MARKER.startsWith(start)) return; // too few bytes yet to tell
    throw new HeaderError("age header is invalid or corrupt: the file does not start with the age-encryption.org/v1 version line");
  }
}

/**
 * Unwraps the file key from a complete header with `identities` and checks the header MAC
 * (both done by age-encryption).
 */
export async function openHeader(header: Uint8Array, identities: readonly (string | Identity)[]): Promise<Uint8Array> {
  const decrypter = new Decrypter();
  for (const identity of identities) decrypter.addIdentity(identity);
  try {
    return await decrypter.decryptHeader(header);
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    if (/no identity matched/.test(detail)) throw new NoMatchingIdentityError("no identity matches this archive's recipients");
    throw new HeaderError(`age header is invalid or corrupt (${detail})`);
  }
}
