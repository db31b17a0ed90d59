/**
 * zstd one frame at a time, for seekable archives (the core cuts the frames; see
 * core/src/seekable.ts). The same parameters as the stream compressor, straight on a zstd
 * context: input is handed to zstd's worker threads as it comes, and only the end of a frame
 * waits for them.
 */
import { createRequire } from "node:module";
import type { FrameCompressor } from "@sov/core";

type Binding = typeof import("zstd-napi/binding.js");
// zstd-napi's native binding is CommonJS without named exports an ES import can see.
const binding = createRequire(import.meta.url)("zstd-napi/binding.js") as Binding;
const OUT_SIZE = binding.cStreamOutSize();
const NOTHING = Buffer.alloc(0);

export interface ZstdFrameParameters {
  level: number;
  threads: number;
  jobSize: number;
  overlapLog: number;
}

export function createZstdFrames(p: ZstdFrameParameters): FrameCompressor {
  const cctx = new binding.CCtx();
  const { CParameter } = binding;
  cctx.setParameter(CParameter.compressionLevel, p.level);
  cctx.setParameter(CParameter.checksumFlag, 1);
  cctx.setParameter(CParameter.nbWorkers, p.threads);
  cctx.setParameter(CParameter.jobSize, p.jobSize);
  cctx.setParameter(CParameter.overlapLog, p.overlapLog);
  let out = Buffer.allocUnsafe(OUT_SIZE);

  /** zstd's streaming loop: feed all of `input`; with `end`, until the frame is flushed whole. */
  const run = (input: Buffer, end: boolean): Buffer[] => {
    const produced: Buffer[] = [];
    const op = end ? binding.EndDirective.end : binding.EndDirective.continue;
    for (;;) {
      const [remaining, written, consumed] = cctx.compressStream2(out, input, op);
      if (written > 0) {
        produced.push(out.subarray(0, written));
        out = Buffer.allocUnsafe(OUT_SIZE);
      }
      input = input.subarray(consumed);
      if (input.length === 0 && (!end || remaining === 0)) return produced;
    }
  };

  return {
    write: async (input) => run(input, false),
    endFrame: async () => run(NOTHING, true),
    // the context is native memory that zstd-napi frees when it is collected
    dispose: () => {},
  };
}
