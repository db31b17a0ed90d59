/**
 * A byte ring in shared memory between two threads: one writes, the other reads, and neither
 * allocates or posts a message per chunk. The two counters are running byte totals (wrapping
 * at 2^32, so the ring must hold less than 2^31 bytes); what lies between them is the readable
 * part. A thread that cannot go on waits on a Doorbell the other rings after it moved a counter
 * or a flag (see @sov/compress-zstd's decode-thread.ts and restore's extract-thread.ts).
 * A subpath of its own (`@sov/core/byte-ring`), so a worker can load it without the core.
 */

/** Indexes into the control array. */
const WRITTEN = 0;
const READ = 1;

export class ByteRing {
  readonly bytes: Uint8Array;
  private readonly counters: Int32Array;
  private readonly mask: number;

  /** `shared` from ByteRing.allocate(), on both sides. */
  constructor(readonly shared: SharedArrayBuffer) {
    this.counters = new Int32Array(shared, 0, 2);
    this.bytes = new Uint8Array(shared, 8);
    this.mask = this.bytes.length - 1;
  }

  /** A ring of `size` bytes, a power of two below 2^31. */
  static allocate(size: number): SharedArrayBuffer {
    if (!Number.isInteger(Math.log2(size)) || size >= 2 ** 31) throw new RangeError(`ring size ${size} is not a power of two below 2^31`);
    return new SharedArrayBuffer(8 + size);
  }

  /** Bytes written and not yet read. */
  readable(): number {
    return (Atomics.load(this.counters, WRITTEN) - Atomics.load(this.counters, READ)) | 0;
  }

  /** Room for more writes. */
  writable(): number {
    return this.bytes.length - this.readable();
  }

  /**
   * The readable bytes that lie in one piece after the first `skip` (a view of the ring, valid
   * until consumed): a reader may hand out views and consume them later.
   */
  readView(skip = 0): Uint8Array {
    const start = (Atomics.load(this.counters, READ) + skip) & this.mask;
    return this.bytes.subarray(start, start + Math.min(this.readable() - skip, this.bytes.length - start));
  }

  /** The free bytes that lie in one piece, to be filled and then committed. */
  writeView(): Uint8Array {
    const written = Atomics.load(this.counters, WRITTEN);
    const start = written & this.mask;
    return this.bytes.subarray(start, start + Math.min(this.writable(), this.bytes.length - start));
  }

  /** The reader is done with `n` bytes: the writer may reuse them. */
  consume(n: number): void {
    if (n > 0) Atomics.add(this.counters, READ, n);
  }

  /** The writer filled `n` bytes of its view: the reader may take them. */
  commit(n: number): void {
    if (n > 0) Atomics.add(this.counters, WRITTEN, n);
  }

  /** Copies as much of `data` in as there is room for; returns how much. */
  write(data: Uint8Array): number {
    let done = 0;
    while (done < data.length) {
      const view = this.writeView();
      if (view.length === 0) break;
      const n = Math.min(view.length, data.length - done);
      view.set(data.subarray(done, done + n));
      this.commit(n);
      done += n;
    }
    return done;
  }
}

/**
 * The control slots both ring users share (Int32, indexes below); a user adds its own from
 * CHANNEL_SLOTS on.
 */
/** Rung by the event-loop thread after it moved a ring counter or set a flag. */
export const BELL_TO_WORKER = 0;
/** Rung by the worker after it moved a ring counter or set a flag. */
export const BELL_TO_MAIN = 1;
/** 1 once the last input byte is in the ring. */
export const INPUT_ENDED = 2;
/** 1 when the other side must stop. */
export const STOP = 3;
export const CHANNEL_SLOTS = 4;

/**
 * A counter in shared memory that one thread bumps to wake the other. Take mark() before looking
 * at what it guards, then wait on that mark: a ring in between ends the wait at once.
 */
export class Doorbell {
  constructor(
    private readonly slots: Int32Array,
    private readonly index: number,
  ) {}

  mark(): number {
    return Atomics.load(this.slots, this.index);
  }

  ring(): void {
    Atomics.add(this.slots, this.index, 1);
    Atomics.notify(this.slots, this.index);
  }

  /** Worker side: blocks until rung after `mark`. */
  wait(mark: number): void {
    Atomics.wait(this.slots, this.index, mark);
  }

  /** Event-loop side: resolves once rung after `mark` (a ring from this thread counts too). */
  async whenRung(mark: number): Promise<void> {
    const wait = Atomics.waitAsync(this.slots, this.index, mark);
    if (wait.async) await wait.value;
  }
}

/**
 * Event-loop side: copies all of `data` into `ring`, ringing `toReader` after each copy and
 * awaiting `fromReader` while the ring is full. Stops early, returning false, once `go()` says
 * so (it may also throw).
 */
export async function writeAllToRing(ring: ByteRing, data: Uint8Array, toReader: Doorbell, fromReader: Doorbell, go: () => boolean): Promise<boolean> {
  for (let rest = data; ; ) {
    const mark = fromReader.mark();
    if (!go()) return false;
    const copied = ring.write(rest);
    if (copied > 0) toReader.ring();
    rest = rest.subarray(copied);
    if (rest.length === 0) return true;
    await fromReader.whenRung(mark);
  }
}

/**
 * A stream's output handed over as a ring, for a reader on another thread to read in place: what
 * a decoder's `shareOutput()` returns (see PLUGINS.md). The writer rings `control`'s
 * BELL_TO_MAIN after it commits bytes; the reader rings its BELL_TO_WORKER after it consumes.
 */
export interface SharedOutput {
  /** ByteRing memory (ByteRing.allocate). */
  readonly ring: SharedArrayBuffer;
  /** Int32 slots; BELL_TO_MAIN and BELL_TO_WORKER are the ones the reader uses. */
  readonly control: SharedArrayBuffer;
}
