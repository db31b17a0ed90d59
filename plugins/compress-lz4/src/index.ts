/**
 * @sov/compress-lz4: the `compress` stage as LZ4 frames, which the stock `lz4 -d` reads, and the
 * decoder restore uses for `.lz4` archives (this plugin's and the bash tool's `tar | lz4`).
 */
import { definePlugin, type OptionsSchema } from "@sov/core";
import { createLz4CompressStream, Lz4Frames } from "./compress-stream.js";
import { createLz4DecodeStream } from "./decode-stream.js";

export const PLUGIN_NAME = "@sov/compress-lz4";
export const EXTENSION = "lz4";

const MIB = 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 4 * MIB;

export interface Lz4PluginOptions {
  /** Input bytes per LZ4 frame. */
  chunk_size?: number;
}

export const optionsSchema: OptionsSchema = {
  type: "object",
  properties: {
    chunk_size: {
      type: "integer",
      minimum: 64 * 1024,
      maximum: 64 * MIB,
      default: DEFAULT_CHUNK_SIZE,
      description: "Input bytes per LZ4 frame (64 KiB to 64 MiB); sov buffers about five of them.",
    },
  },
  additionalProperties: false,
};

function formatSize(bytes: number): string {
  if (bytes % MIB === 0) return `${bytes / MIB} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

export default definePlugin<Lz4PluginOptions>({
  name: PLUGIN_NAME,
  stage: "compress",
  optionsSchema,
  apply(hooks, options) {
    const chunkSize = options.chunk_size ?? DEFAULT_CHUNK_SIZE;
    hooks.compress.tapPromise(PLUGIN_NAME, async () => ({
      extension: EXTENSION,
      describe: () => [`lz4: one frame per ${formatSize(chunkSize)} of input, content checksums on; lz4 -d reads it`],
      createCompressStream: () => createLz4CompressStream({ chunkSize }),
      createFrameCompressor: () => new Lz4Frames({ chunkSize }),
    }));
  },
  decoder: {
    extension: EXTENSION,
    createDecodeStream: async () => createLz4DecodeStream(),
  },
});

export { createLz4CompressStream, Lz4CompressStream, type Lz4CompressOptions } from "./compress-stream.js";
export { createLz4DecodeStream, Lz4DecodeStream } from "./decode-stream.js";
export { Lz4FormatError } from "./frame-format.js";
export { XxHash32, xxh32 } from "./xxhash32.js";
