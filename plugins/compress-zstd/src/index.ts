import { availableParallelism } from "node:os";
import { definePlugin, type Compressor } from "@sov/core";
import { CompressStream } from "zstd-napi";
import { createZstdDecodeStream } from "./decode-stream.js";
import { createThreadedZstdDecodeStream } from "./decode-thread.js";
import { createZstdFrames } from "./frames.js";

export const PLUGIN_NAME = "@sov/compress-zstd";

export interface ZstdOptions {
  /** zstd level, 1 (fast) to 19; the bash tool ran `zstd -3`. */
  level?: number;
  /** Worker threads; 0 means one per core, like `zstd -T0`. */
  threads?: number;
}

const optionsSchema = {
  type: "object",
  properties: {
    level: { type: "integer", minimum: 1, maximum: 19, default: 3 },
    threads: { type: "integer", minimum: 0, maximum: 64, default: 0 },
  },
  additionalProperties: false,
};

/**
 * For the plain stream (createCompressStream; a backup writes frames, see frames.ts). zstd's
 * multi-threaded mode keeps several jobs' input and output in flight; at level 3 its
 * default job is 8 MiB, which alone put a 1 GiB run at ~290 MiB RSS. 2 MiB jobs keep the whole
 * run under 200 MiB at the same speed.
 */
const JOB_SIZE = 2 << 20;
/**
 * Each job starts with the whole window (2 MiB at level 3) of the input before it as history,
 * where the default gives it none at this level: small jobs then lose no ratio. Measured on the
 * 256 MiB bench corpus: 0.9% smaller than `zstd -T0 -3`'s 8 MiB jobs, where 2 MiB jobs without
 * overlap were 0.7% larger, for about the same CPU.
 */
const OVERLAP_LOG = 9;

/** Standard zstd frames with checksums, so `zstd -d` (and `zstd -t`) read every archive. */
export function zstdCompressor(options: ZstdOptions = {}): Compressor {
  const level = options.level ?? 3;
  const threads = options.threads || availableParallelism();
  return {
    extension: "zst",
    describe: () => [`zstd level ${level}, ${threads} thread(s)`],
    createCompressStream: () => new CompressStream({ compressionLevel: level, nbWorkers: threads, checksumFlag: true, jobSize: JOB_SIZE, overlapLog: OVERLAP_LOG }),
    createFrameCompressor: () => createZstdFrames({ level, threads }),
  };
}

export default definePlugin<ZstdOptions>({
  name: PLUGIN_NAME,
  stage: "compress",
  optionsSchema,
  apply(hooks, options) {
    hooks.compress.tapPromise(PLUGIN_NAME, async () => zstdCompressor(options));
  },
  decoder: {
    extension: "zst",
    // zstd checks each frame's checksum; a truncated stream fails at its end. Bounded memory
    // whatever the compression ratio: see decode-stream.ts and decode-thread.ts. A whole
    // archive decodes on a thread of its own; a few frames of one (a seekable restore's
    // spans) are not worth starting a thread for.
    createDecodeStream: async (ctx) => (ctx.whole ? createThreadedZstdDecodeStream() : createZstdDecodeStream()),
  },
});
