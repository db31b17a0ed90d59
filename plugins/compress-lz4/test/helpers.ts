import { execFileSync, spawnSync } from "node:child_process";
import { createCipheriv } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Duplex, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createLz4CompressStream, createLz4DecodeStream } from "../src/index.js";

export const MiB = 1024 * 1024;

/** Deterministic incompressible bytes: an AES-CTR keystream. */
export function noise(size: number, seed = 1): Buffer {
  const key = Buffer.alloc(16, seed & 0xff);
  return createCipheriv("aes-128-ctr", key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

const WORDS = "backup archive stream frame block checksum restore verify host journal the of and to in is".split(" ");

/** Deterministic compressible text with matches near and far, like logs and source files. */
export function text(size: number, seed = 1): Buffer {
  let s = (seed * 2654435761) >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  const lines = Array.from({ length: 512 }, () =>
    Array.from({ length: 3 + (next() % 10) }, () => WORDS[next() % WORDS.length]).join(" ") + ` ${next() % 100000}\n`,
  );
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const line = lines[next() % lines.length]!;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, size);
}

/** Compressible and incompressible stretches of varied length, so frames hold both kinds of block. */
export function mixed(size: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let i = 0; offset < size; i++) {
    const length = Math.min(size - offset, (i % 3 === 0 ? 300_000 : 1_100_000) + i * 7919);
    (i % 2 === 0 ? text(length, seed + i) : noise(length, seed + i)).copy(out, offset);
    offset += length;
  }
  return out;
}

/** Splits `data` into chunks whose sizes cycle through `sizes`. */
export function* chunked(data: Buffer, sizes: readonly number[]): Generator<Buffer> {
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield data.subarray(offset, offset + size);
    offset += size;
  }
}

/** Runs `chunks` through `transform` and returns everything it wrote. */
export async function through(transform: Duplex, chunks: Iterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { objectMode: false }),
    transform,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

export function compress(data: Buffer, chunkSize = 4 * MiB, inputChunk = 64 * 1024): Promise<Buffer> {
  return through(createLz4CompressStream({ chunkSize }), chunked(data, [inputChunk]));
}

export function decode(data: Buffer, chunkSizes: readonly number[] = [64 * 1024]): Promise<Buffer> {
  return through(createLz4DecodeStream(), chunked(data, chunkSizes));
}

/**
 * Whether the `lz4` CLI can run here. Without it, tests that need it are skipped with this reason,
 * except on CI (CI=true), where a missing tool must fail the run rather than hide a gap.
 */
export const lz4Cli: { available: boolean; skip: string | false } = (() => {
  const probe = spawnSync("lz4", ["--version"], { encoding: "utf8" });
  if (probe.status === 0) return { available: true, skip: false };
  if (process.env.CI === "true") return { available: false, skip: false };
  return { available: false, skip: "the lz4 CLI is not installed (apt install lz4); these tests need it" };
})();

/**
 * Runs `lz4 -q args... FILE` with `input` in FILE and returns its stdout; throws if lz4 fails or
 * is missing. A file, not stdin, because lz4 ignores `--content-size` when it reads a pipe.
 */
export function runLz4(args: readonly string[], input: Buffer): Buffer {
  if (!lz4Cli.available) throw new Error("the lz4 CLI is required when CI=true but is not installed");
  const dir = mkdtempSync(join(tmpdir(), "sov-lz4-test-"));
  try {
    const file = join(dir, "input");
    writeFileSync(file, input);
    return execFileSync("lz4", ["-q", ...args, file], { maxBuffer: 1024 * MiB });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
