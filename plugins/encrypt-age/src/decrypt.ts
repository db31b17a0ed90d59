import { Transform, type TransformCallback } from "node:stream";
import { ConfigError, RunError, type DecodeContext } from "@sov/core";
import { HeaderCollector, HeaderError, NoMatchingIdentityError, openHeader } from "./header.js";
import { readIdentities, type AgeIdentity } from "./identities.js";
import { OUTPUT_BATCH_SIZE, OutputBatch, PayloadError, PayloadOpener } from "./stream.js";

/** The identities a decoder tries, and the file they came from (named in errors). */
export interface DecodeIdentities {
  readonly identities: readonly AgeIdentity[];
  readonly file: string;
}

/**
 * Reads the identity file (age identities, or an ssh private key) now: a problem there is a
 * ConfigError before any byte is read.
 */
export async function readDecodeIdentities(ctx: DecodeContext): Promise<DecodeIdentities> {
  const file = ctx.identityFile;
  if (!file) throw new ConfigError("decrypting needs an age identity file, and none was given");
  return { identities: await readIdentities(file), file };
}

/**
 * What a decrypt failure means for the user: wrong identity is a ConfigError (exit 2, the user
 * gave the wrong key); an unusable archive is a RunError (exit 1); anything else (an I/O error)
 * goes on as it is.
 */
export function explainDecryptError(err: unknown, keys: DecodeIdentities): Error {
  if (err instanceof NoMatchingIdentityError) {
    const n = keys.identities.length;
    const tried = `${n} identit${n === 1 ? "y" : "ies"} from ${keys.file}`;
    return new ConfigError(`${err.message} (tried ${tried}); is it the right key file?`);
  }
  if (err instanceof HeaderError || err instanceof PayloadError) return new RunError(err.message);
  return err instanceof Error ? err : new Error(String(err));
}

/** A Transform from an age file to its plaintext; the identity file is read first. */
export async function createDecryptStream(ctx: DecodeContext): Promise<Transform> {
  return new DecryptStream(await readDecodeIdentities(ctx));
}

/** A Transform from an age file to its plaintext; failures as explainDecryptError says. */
class DecryptStream extends Transform {
  readonly #keys: DecodeIdentities;
  readonly #header = new HeaderCollector();
  #opener: PayloadOpener | undefined;
  readonly #out = new OutputBatch();

  constructor(keys: DecodeIdentities) {
    super();
    this.#keys = keys;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#opener) {
      this.#step((opener) => opener.update(chunk, this.#out), callback);
      return;
    }
    let split;
    try {
      split = this.#header.add(chunk);
    } catch (err) {
      callback(this.#explain(err));
      return;
    }
    if (!split) {
      callback();
      return;
    }
    const { rest } = split;
    openHeader(split.header, this.#keys.identities).then((fileKey) => {
      this.#opener = new PayloadOpener(fileKey);
      fileKey.fill(0);
      if (this.destroyed) {
        this.#opener.dispose();
        return;
      }
      this.#step((opener) => opener.update(rest, this.#out), callback);
    }, (err: unknown) => callback(this.#explain(err)));
  }

  override _flush(callback: TransformCallback): void {
    if (!this.#opener) {
      callback(this.#explain(this.#header.endError()));
      return;
    }
    this.#step((opener) => opener.final(this.#out), callback, true);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#opener?.dispose();
    callback(err);
  }

  /** Runs one opener step; plaintext verified before a failure is still pushed. */
  #step(work: (opener: PayloadOpener) => void, callback: TransformCallback, end = false): void {
    let failure: Error | undefined;
    try {
      work(this.#opener!);
    } catch (err) {
      failure = this.#explain(err);
    }
    // pushed as the pieces they were opened into: joining them would copy all the plaintext
    if (failure || end || this.#out.size >= OUTPUT_BATCH_SIZE) for (const verified of this.#out.drainPieces()) this.push(verified);
    callback(failure);
  }

  #explain(err: unknown): Error {
    return explainDecryptError(err, this.#keys);
  }
}
