import type { Readable } from "node:stream";

/**
 * A Readable's chunks one at a time, as they were pushed. `for await` on a Readable reads with
 * read(), which joins everything buffered into one new Buffer: with a decoder pushing 128 KiB
 * blocks into its 1 MiB buffer, that copied the whole plaintext once more. Flowing mode hands
 * each chunk over as it is; pausing while `ahead` chunks wait keeps the backpressure.
 *
 * Ends as `for await` would: done after 'end', the stream's error if it fails, a premature-close
 * error if it is destroyed before its end. return() destroys the stream.
 */
export function chunksOf(readable: Readable, ahead = 4): AsyncIterableIterator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  readable.on("data", (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= ahead) readable.pause();
    notify();
  });
  readable.once("end", () => {
    ended = true;
    notify();
  });
  readable.once("error", (err) => {
    failure ??= err;
    notify();
  });
  readable.once("close", () => {
    if (!ended) failure ??= Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
    notify();
  });

  const iterator: AsyncIterableIterator<Buffer> = {
    async next(): Promise<IteratorResult<Buffer>> {
      for (;;) {
        const value = queue.shift();
        if (value !== undefined) {
          if (queue.length < ahead && readable.isPaused() && !ended) readable.resume();
          return { value, done: false };
        }
        // what was queued before a failure is still handed over, as for await does
        if (failure !== undefined) throw failure;
        if (ended) return { value: undefined, done: true };
        if (readable.isPaused()) readable.resume();
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    async return(): Promise<IteratorResult<Buffer>> {
      ended = true;
      queue.length = 0;
      readable.destroy();
      return { value: undefined, done: true };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
