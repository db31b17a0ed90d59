/** One LZ4 block (the raw LZ4 compressed format, no framing), decoded by lz4-napi in native code. */
import { uncompressSync } from "lz4-napi";

/** Room a caller leaves in front of a block for `decompressBlock`'s size prefix. */
export const BLOCK_PREFIX_LENGTH = 4;

/**
 * Decodes the block held in `input` after `BLOCK_PREFIX_LENGTH` free bytes, which it overwrites.
 * lz4-napi's `uncompress` is lz4_flex's `decompress_size_prepended`: it wants the block behind a
 * 4-byte little-endian size, which lz4_flex treats as the output capacity, not the exact size.
 * The frame's block maximum size therefore decodes any valid block and rejects one that would
 * overflow it. `dict` is the earlier output a linked block may copy from.
 */
export function decompressBlock(input: Buffer, blockMaxSize: number, dict: Uint8Array | undefined): Buffer {
  input.writeUInt32LE(blockMaxSize, 0);
  return uncompressSync(input, dict);
}
