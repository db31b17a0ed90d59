import { constants, createGunzip, createGzip } from "node:zlib";
import { definePlugin, type Compressor } from "@sov/core";

export const PLUGIN_NAME = "@sov/compress-gzip";

export interface GzipOptions {
  /** gzip level, 1 (fast) to 9; gzip's default is 6. */
  level?: number;
}

const optionsSchema = {
  type: "object",
  properties: { level: { type: "integer", minimum: 1, maximum: 9, default: 6 } },
  additionalProperties: false,
};

/** gzip through node:zlib, for v0.1 configs that say `gzip` or `pigz`; `gzip -d` reads it. */
export function gzipCompressor(options: GzipOptions = {}): Compressor {
  const level = options.level ?? 6;
  return {
    extension: "gz",
    describe: () => [`gzip level ${level}`],
    createCompressStream: () => createGzip({ level, chunkSize: 256 * 1024 }),
  };
}

export default definePlugin<GzipOptions>({
  name: PLUGIN_NAME,
  stage: "compress",
  optionsSchema,
  apply(hooks, options) {
    hooks.compress.tapPromise(PLUGIN_NAME, async () => gzipCompressor(options));
  },
  decoder: {
    extension: "gz",
    // `finishFlush: Z_SYNC_FLUSH` is not set: a truncated stream must fail, not end quietly.
    createDecodeStream: async () => createGunzip({ chunkSize: 256 * 1024, finishFlush: constants.Z_FINISH }),
  },
});
