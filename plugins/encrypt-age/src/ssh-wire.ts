/**
 * The SSH wire encoding (RFC 4251 section 5) that public key blobs and OpenSSH private key files
 * are made of: big-endian uint32, length-prefixed strings, and mpints.
 */

/** A key or key file that cannot be used; the message never contains key material. */
export class SshKeyError extends Error {
  override readonly name = "SshKeyError";
}

/** Reads one blob front to back; every read past the end is an SshKeyError. */
export class WireReader {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(buf: Uint8Array, readonly what: string) {
    this.#buf = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  uint32(): number {
    return this.#take(4).readUInt32BE(0);
  }

  bytes(length: number): Buffer {
    return this.#take(length);
  }

  string(): Buffer {
    return this.#take(this.uint32());
  }

  /** A string that must hold printable ASCII, such as a key type or cipher name. */
  name(): string {
    const raw = this.string();
    if (!/^[\x21-\x7e]*$/.test(raw.toString("latin1"))) throw new SshKeyError(`${this.what} is malformed (a name field is not ASCII)`);
    return raw.toString("latin1");
  }

  /**
   * A positive mpint in its canonical form (no needless leading zero byte), which is what
   * OpenSSH writes. Canonical input means the blob equals its re-encoding, so hashes over it
   * (the age tag) match what other implementations compute.
   */
  positiveMpint(field: string): bigint {
    const raw = this.string();
    if (raw.length === 0) throw new SshKeyError(`${this.what} has a zero ${field}`);
    if (raw[0]! & 0x80) throw new SshKeyError(`${this.what} has a negative ${field}`);
    if (raw[0] === 0 && (raw.length === 1 || !(raw[1]! & 0x80))) {
      throw new SshKeyError(`${this.what} has a non-canonical ${field}`);
    }
    return bigintFromBytes(raw);
  }

  /** Fails unless the whole blob was read. */
  end(): void {
    if (this.remaining !== 0) throw new SshKeyError(`${this.what} has ${this.remaining} unexpected trailing bytes`);
  }

  #take(length: number): Buffer {
    if (length > this.remaining) throw new SshKeyError(`${this.what} is truncated`);
    const out = this.#buf.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }
}

export function wireString(value: Uint8Array | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value, "latin1") : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** The canonical mpint encoding of a positive integer. */
export function wireMpint(value: bigint): Buffer {
  const bytes = bigintToBytes(value);
  return wireString(bytes[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes]) : bytes);
}

export function bigintFromBytes(bytes: Uint8Array): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
}

/** Minimal big-endian bytes of a positive integer. */
export function bigintToBytes(value: bigint): Buffer {
  const hex = value.toString(16);
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, "hex");
}

/** Base64 as age writes it in stanzas: standard alphabet, no padding. */
export function ageBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

/** Decodes age base64, or returns undefined unless the text is its canonical encoding. */
export function decodeAgeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return ageBase64(bytes) === text ? bytes : undefined;
}

/** Decodes padded standard base64 (what OpenSSH writes), or returns undefined if it is not canonical. */
export function decodePaddedBase64(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? bytes : undefined;
}
