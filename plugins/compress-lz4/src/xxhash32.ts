/**
 * xxHash32 (https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md), the checksum the
 * LZ4 frame format uses for its header, block and content checksums. Streaming, because a frame's
 * content checksum covers everything it decodes to, which can be far larger than memory.
 */

const PRIME1 = 0x9e3779b1;
const PRIME2 = 0x85ebca77;
const PRIME3 = 0xc2b2ae3d;
const PRIME4 = 0x27d4eb2f;
const PRIME5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function read32(b: Uint8Array, i: number): number {
  return (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, PRIME2)) | 0, 13), PRIME1);
}

export class XxHash32 {
  private v1: number;
  private v2: number;
  private v3: number;
  private v4: number;
  private total = 0;
  /** Input not yet consumed as a full 16-byte stripe. */
  private readonly tail = new Uint8Array(16);
  private tailLength = 0;

  constructor(private readonly seed = 0) {
    this.v1 = (seed + PRIME1 + PRIME2) | 0;
    this.v2 = (seed + PRIME2) | 0;
    this.v3 = seed | 0;
    this.v4 = (seed - PRIME1) | 0;
  }

  update(data: Uint8Array): this {
    const length = data.length;
    this.total += length;
    let i = 0;
    if (this.tailLength > 0) {
      const take = Math.min(16 - this.tailLength, length);
      this.tail.set(data.subarray(0, take), this.tailLength);
      this.tailLength += take;
      i = take;
      if (this.tailLength < 16) return this;
      this.stripes(this.tail, 0, 16);
      this.tailLength = 0;
    }
    const end = i + ((length - i) & ~15);
    if (end > i) this.stripes(data, i, end);
    if (end < length) {
      this.tail.set(data.subarray(end), 0);
      this.tailLength = length - end;
    }
    return this;
  }

  /** The hash of everything passed to `update()` so far, as an unsigned 32-bit integer. */
  digest(): number {
    let h: number;
    if (this.total >= 16) {
      h = (rotl(this.v1, 1) + rotl(this.v2, 7) + rotl(this.v3, 12) + rotl(this.v4, 18)) | 0;
    } else {
      h = (this.seed + PRIME5) | 0;
    }
    // The spec adds the length modulo 2^32.
    h = (h + (this.total % 0x1_0000_0000)) | 0;
    const t = this.tail;
    let i = 0;
    for (; i + 4 <= this.tailLength; i += 4) {
      h = Math.imul(rotl((h + Math.imul(read32(t, i), PRIME3)) | 0, 17), PRIME4);
    }
    for (; i < this.tailLength; i++) {
      h = Math.imul(rotl((h + Math.imul(t[i]!, PRIME5)) | 0, 11), PRIME1);
    }
    h ^= h >>> 15;
    h = Math.imul(h, PRIME2);
    h ^= h >>> 13;
    h = Math.imul(h, PRIME3);
    h ^= h >>> 16;
    return h >>> 0;
  }

  private stripes(b: Uint8Array, start: number, end: number): void {
    // DataView reads little-endian words at any alignment, and is the fastest of the ways tried.
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    let { v1, v2, v3, v4 } = this;
    for (let i = start; i < end; i += 16) {
      v1 = round(v1, view.getInt32(i, true));
      v2 = round(v2, view.getInt32(i + 4, true));
      v3 = round(v3, view.getInt32(i + 8, true));
      v4 = round(v4, view.getInt32(i + 12, true));
    }
    this.v1 = v1;
    this.v2 = v2;
    this.v3 = v3;
    this.v4 = v4;
  }
}

/** xxHash32 of one buffer. */
export function xxh32(data: Uint8Array, seed = 0): number {
  return new XxHash32(seed).update(data).digest();
}
