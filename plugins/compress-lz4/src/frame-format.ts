/**
 * The LZ4 frame format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md): the
 * container `lz4` writes by default. A stream is a series of frames and skippable frames.
 *
 *   frame:  magic 0x184D2204 | FLG | BD | [content size: 8] | [dict id: 4] | HC | blocks | EndMark | [xxh32: 4]
 *   block:  size: 4 (high bit set = stored uncompressed) | data | [xxh32 of data: 4]
 *   skippable frame:  magic 0x184D2A50..0x184D2A5F | size: 4 | size bytes to ignore
 */
import { RunError } from "@sov/core";
import { xxh32 } from "./xxhash32.js";

export const FRAME_MAGIC = 0x184d2204;
/** Skippable frames use 16 magic numbers; masking the low nibble finds all of them. */
export const SKIPPABLE_MAGIC_MASK = 0xfffffff0;
export const SKIPPABLE_MAGIC = 0x184d2a50;
/** `lz4 -l`, the Linux kernel's format. */
export const LEGACY_MAGIC = 0x184c2102;

/** High bit of a block size: the block holds its bytes as they are. */
export const BLOCK_UNCOMPRESSED_FLAG = 0x8000_0000;
/** How far back an LZ4 match may reach, so how much earlier output a linked block may need. */
export const WINDOW_SIZE = 64 * 1024;

/** Block maximum sizes by the BD byte's 3-bit code; codes 0-3 are reserved. */
const BLOCK_MAX_SIZES: Readonly<Record<number, number>> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };

/** A stream this plugin cannot decode, because it is damaged or cut short. Exit code 1, one line. */
export class Lz4FormatError extends RunError {}

/** `where` says which frame and input byte, for whoever has to look at the file. */
export function corrupt(detail: string, where: string): Lz4FormatError {
  return new Lz4FormatError(`lz4 stream is corrupt: ${detail} (${where})`);
}

export function truncated(detail: string): Lz4FormatError {
  return new Lz4FormatError(`lz4 stream is truncated: ${detail}`);
}

export interface FrameDescriptor {
  readonly blockMaxSize: number;
  /** Blocks may refer back into the previous 64 KiB of output (`lz4 -BD`). */
  readonly linkedBlocks: boolean;
  readonly blockChecksums: boolean;
  readonly contentChecksum: boolean;
  /** The decoded size the frame announces (`lz4 --content-size`). */
  readonly contentSize: bigint | undefined;
}

/** The descriptor's length (FLG through HC), known from its first byte. */
export function descriptorLength(flg: number): number {
  return 3 + (flg & 0x08 ? 8 : 0) + (flg & 0x01 ? 4 : 0);
}

/** Checks and decodes a frame descriptor; `bytes` is FLG through HC. */
export function parseDescriptor(bytes: Buffer, where: string): FrameDescriptor {
  const flg = bytes[0]!;
  const bd = bytes[1]!;
  const version = flg >> 6;
  if (version !== 1) throw corrupt(`frame version ${version} is not 1`, where);
  // FLG bit 1 and BD bits 7 and 0-3 are reserved and must be zero.
  if (flg & 0x02 || bd & 0x8f) throw corrupt(`reserved bits set in the frame descriptor`, where);
  const hc = bytes[bytes.length - 1]!;
  if (((xxh32(bytes.subarray(0, bytes.length - 1)) >>> 8) & 0xff) !== hc) {
    throw corrupt(`header checksum mismatch`, where);
  }
  if (flg & 0x01) {
    const dictId = bytes.readUInt32LE(bytes.length - 5);
    throw new Lz4FormatError(`lz4 frame needs dictionary ${dictId} (lz4 -D), which sov cannot supply (${where})`);
  }
  const blockMaxSize = BLOCK_MAX_SIZES[(bd >> 4) & 0x07];
  if (blockMaxSize === undefined) throw corrupt(`reserved block maximum size code ${(bd >> 4) & 0x07}`, where);
  return {
    blockMaxSize,
    linkedBlocks: (flg & 0x20) === 0,
    blockChecksums: (flg & 0x10) !== 0,
    contentChecksum: (flg & 0x04) !== 0,
    contentSize: flg & 0x08 ? bytes.readBigUInt64LE(2) : undefined,
  };
}
