/**
 * The bytes a stream has received but not yet parsed. Chunks are kept as they arrive, so a reader
 * that needs n bytes pays one copy only when they span chunks, and a stream fed one byte at a time
 * stays linear.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  /** Index of the first chunk still holding unread bytes. */
  private first = 0;
  /** Offset of the first unread byte in `chunks[first]`. */
  private offset = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** The byte at `index` from the front, without consuming anything; `index` must be < length. */
  peek(index: number): number {
    let i = index + this.offset;
    for (let c = this.first; ; c++) {
      const chunk = this.chunks[c]!;
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
  }

  /** Removes and returns the first `n` bytes (n <= length). Shares memory with the input when it can. */
  take(n: number): Buffer {
    const head = this.chunks[this.first];
    if (head && this.offset + n <= head.length) {
      const out = head.subarray(this.offset, this.offset + n);
      this.consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    this.takeInto(out, 0, n);
    return out;
  }

  /** Removes the first `n` bytes (n <= length), copying them into `target` at `targetOffset`. */
  takeInto(target: Uint8Array, targetOffset: number, n: number): void {
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.first]!;
      const end = Math.min(chunk.length, this.offset + n - filled);
      target.set(chunk.subarray(this.offset, end), targetOffset + filled);
      filled += end - this.offset;
      this.consume(end - this.offset);
    }
  }

  /** Drops up to `n` bytes from the front; returns how many were dropped. */
  skip(n: number): number {
    let dropped = 0;
    while (dropped < n && this.size > 0) {
      const chunk = this.chunks[this.first]!;
      const step = Math.min(chunk.length - this.offset, n - dropped);
      this.consume(step);
      dropped += step;
    }
    return dropped;
  }

  /** Advances past `n` bytes, all within the first chunk. */
  private consume(n: number): void {
    this.offset += n;
    this.size -= n;
    if (this.offset === this.chunks[this.first]!.length) {
      this.chunks[this.first] = EMPTY;
      this.first++;
      this.offset = 0;
      // Compact now and then, so a long run of tiny chunks does not grow the array forever.
      if (this.first === this.chunks.length) {
        this.chunks = [];
        this.first = 0;
      } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
        this.chunks = this.chunks.slice(this.first);
        this.first = 0;
      }
    }
  }
}

const EMPTY = Buffer.alloc(0);
