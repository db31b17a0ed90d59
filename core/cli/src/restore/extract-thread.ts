/**
 * Restore of a whole archive with its extraction on a worker thread: the event-loop thread
 * reads and decrypts the archive (and zstd decodes on a thread of its own), while the worker
 * reads the tar and makes the files with the very extractor of extract.ts. So reading,
 * decoding and file creation run side by side, as GNU tar's pipeline runs them in three
 * processes; before, one thread did the decryption, the tar and five metadata calls per file.
 *
 * The plaintext goes over a fixed ring in shared memory (@sov/core/byte-ring) with a doorbell
 * each way: no message or buffer transfer per chunk, so neither isolate is left holding the
 * other's garbage (an earlier attempt transferred chunks and peaked at 222-234 MiB). The worker
 * copies each piece out of the ring, as a decoder allocates its blocks. A reading error on this
 * side (damage, a wrong key, truncation) goes to the worker with its stage, and ends its tar
 * as it would have ended the extractor's; the worker's log lines come back to `options.log`.
 */
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { errorMessage, silentLogger } from "@sov/core";
import { ByteRing } from "@sov/core/byte-ring";
import { chunksOf } from "./chunks.js";
import { type ExtractOptions, type ExtractReport, resolveTarget } from "./extract.js";
import {
  BELL_TO_MAIN, BELL_TO_WORKER, CONTROL_SLOTS, type ExtractMessage, type ExtractWorkerSetup, INPUT_ENDED, type InputFailure, STOP,
} from "./extract-messages.js";
import { stageOf } from "./stage.js";

/** Twice the worker's LAG: the bytes it still holds, and as many again on their way. */
const RING_SIZE = 4 << 20;

/** extractArchive(tar, target, options), with the extraction on a worker thread. */
export async function extractArchiveOnThread(tar: Readable, target: string, options: ExtractOptions = {}): Promise<ExtractReport> {
  let root: string;
  try {
    root = resolveTarget(target);
  } catch (err) {
    tar.on("error", () => {}).destroy();
    throw err;
  }
  const { log = silentLogger(), ...rest } = options;
  const ring = new ByteRing(ByteRing.allocate(RING_SIZE));
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  const setup: ExtractWorkerSetup = { ring: ring.shared, control: control.buffer as SharedArrayBuffer, root, options: rest };
  const worker = new Worker(new URL("./extract-worker.js", import.meta.url), { workerData: setup });

  const result = new Promise<ExtractReport>((resolve, reject) => {
    worker.on("message", (message: ExtractMessage) => {
      if (message.type === "log") log[message.level](message.message);
      else if (message.type === "done") resolve(message.report);
      else reject(new Error(message.message));
    });
    worker.on("error", (err) => reject(new Error(`the extraction thread failed: ${err.message}`, { cause: err })));
    worker.on("exit", (code) => reject(new Error(`the extraction thread stopped before its report (exit code ${code})`)));
  });
  const stopped = () => Atomics.load(control, STOP) === 1;
  const ringWorker = () => {
    Atomics.add(control, BELL_TO_WORKER, 1);
    Atomics.notify(control, BELL_TO_WORKER);
  };

  // a decoder that can refill the pieces it pushed (sov's threaded zstd) gets each one back
  // once it is copied into the ring
  const recycle = (tar as Readable & { recycle?: (piece: Buffer) => void }).recycle?.bind(tar);
  const fed = (async () => {
    const chunks = chunksOf(tar);
    let complete = false;
    try {
      for (let next = await chunks.next(); !next.done && !stopped(); next = await chunks.next()) {
        for (let rest = next.value; rest.length > 0 && !stopped(); ) {
          const bell = Atomics.load(control, BELL_TO_MAIN);
          const copied = ring.write(rest);
          if (copied > 0) ringWorker();
          rest = rest.subarray(copied);
          if (rest.length > 0) {
            const wait = Atomics.waitAsync(control, BELL_TO_MAIN, bell);
            if (wait.async) await wait.value;
          }
        }
        recycle?.(next.value);
      }
      complete = !stopped();
      Atomics.store(control, INPUT_ENDED, 1);
    } catch (err) {
      const failure: InputFailure = { stage: stageOf(err), message: errorMessage(err) };
      worker.postMessage(failure);
    } finally {
      ringWorker();
      // the worker stopped reading early, or reading failed: close the file and the decoders
      if (!complete) await chunks.return?.();
    }
  })();

  try {
    return await result;
  } finally {
    Atomics.store(control, STOP, 1);
    Atomics.add(control, BELL_TO_MAIN, 1);
    Atomics.notify(control, BELL_TO_MAIN);
    tar.destroy(); // a feed waiting for the decoders' next chunk ends now, not at the archive's end
    await fed;
    await worker.terminate();
  }
}
