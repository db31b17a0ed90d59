import { Transform, type TransformCallback } from "node:stream";
import type { Encryptor } from "@sov/core";
import { sealHeader } from "./header.js";
import { abbreviateRecipient, toAgeRecipient, type RecipientSet } from "./recipients.js";
import { OUTPUT_BATCH_SIZE, OutputBatch, PayloadSealer } from "./stream.js";

export function createEncryptor(set: RecipientSet): Encryptor {
  const { recipients, sources } = set;
  return {
    extension: "age",
    describe: () => [
      `${recipients.length} recipient${recipients.length === 1 ? "" : "s"} from ${sources.join(" and ")}`,
      ...recipients.map((r) => `  ${abbreviateRecipient(r)}`),
    ],
    createEncryptStream: () => createEncryptStream(recipients),
  };
}

/** A Transform from plaintext to a complete age file for `recipients` (age1... and ssh lines). */
export async function createEncryptStream(recipients: readonly string[]): Promise<Transform> {
  const { header, nonce, fileKey, emptyPayload } = await sealHeader(recipients.map(toAgeRecipient));
  try {
    checkAgainstAgeEncryption(fileKey, nonce, emptyPayload);
    return new EncryptStream(header, new PayloadSealer(fileKey, nonce));
  } finally {
    fileKey.fill(0);
  }
}

/**
 * Our payload for an empty plaintext must equal the one age-encryption wrote for the same file
 * key and nonce. This proves, per archive, that the captured key and the key derivation match
 * what the header commits to, and costs one empty chunk.
 */
function checkAgainstAgeEncryption(fileKey: Buffer, nonce: Buffer, emptyPayload: Buffer): void {
  const out = new OutputBatch();
  new PayloadSealer(fileKey, nonce).final(out);
  if (!out.drain()?.equals(emptyPayload)) {
    throw new Error("encrypt-age: the payload does not match age-encryption's; refusing to write an unreadable archive");
  }
}

class EncryptStream extends Transform {
  readonly #sealer: PayloadSealer;
  readonly #out = new OutputBatch();

  constructor(header: Buffer, sealer: PayloadSealer) {
    super();
    this.#sealer = sealer;
    this.#out.add(header);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#sealer.update(chunk, this.#out);
    } catch (err) {
      callback(err as Error);
      return;
    }
    // The sealed chunks go on as they are: joining them into one buffer cost a copy of the
    // whole archive; the destinations write them with one writev anyway.
    if (this.#out.size >= OUTPUT_BATCH_SIZE) for (const piece of this.#out.drainPieces()) this.push(piece);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.#sealer.final(this.#out);
    } catch (err) {
      callback(err as Error);
      return;
    }
    for (const piece of this.#out.drainPieces()) this.push(piece);
    callback();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#sealer.dispose();
    callback(err);
  }
}
