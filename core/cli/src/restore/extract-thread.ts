/**
 * Restore of a whole archive with its extraction on a worker thread: the event-loop thread
 * reads and decrypts the archive (and zstd decodes on a thread of its own), while the worker
 * reads the tar and makes the files with the very extractor of extract.ts. So reading,
 * decoding and file creation run side by side, as GNU tar's pipeline runs them in three
 * processes; before, one thread did the decryption, the tar and five metadata calls per file.
 *
 * The plaintext goes over a fixed ring in shared memory (@sov/core/byte-ring) with a doorbell
 * each way: no message or buffer transfer per chunk, so neither isolate is left holding the
 * other's garbage (an earlier attempt transferred chunks and peaked at 222-234 MiB); the worker
 * reads the tar as views of the ring (see LAG in extract-worker.ts). A reading error on this
 * side (damage, a wrong key, truncation) goes to the worker with its stage, and ends its tar
 * as it would have ended the extractor's; the worker's log lines come back to `options.log`.
 */
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { errorMessage, silentLogger } from "@sov/core";
import { BELL_TO_MAIN, BELL_TO_WORKER, ByteRing, Doorbell, INPUT_ENDED, STOP, writeAllToRing } from "@sov/core/byte-ring";
import { chunksOf } from "./chunks.js";
import { type ExtractOptions, type ExtractReport, resolveTarget } from "./extract.js";
import { CONTROL_SLOTS, type ExtractMessage, type ExtractWorkerSetup, type InputFailure } from "./extract-messages.js";
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
  const toWorker = new Doorbell(control, BELL_TO_WORKER);
  const toMain = new Doorbell(control, BELL_TO_MAIN);

  // a decoder that can refill the pieces it pushed (sov's threaded zstd) gets each one back
  // once it is copied into the ring
  const recycle = (tar as Readable & { recycle?: (piece: Buffer) => void }).recycle?.bind(tar);
  const fed = (async () => {
    const chunks = chunksOf(tar);
    let complete = false;
    try {
      for (let next = await chunks.next(); !next.done && !stopped(); next = await chunks.next()) {
        if (await writeAllToRing(ring, next.value, toWorker, toMain, () => !stopped())) recycle?.(next.value);
      }
      complete = !stopped();
      Atomics.store(control, INPUT_ENDED, 1);
    } catch (err) {
      const failure: InputFailure = { stage: stageOf(err), message: errorMessage(err) };
      worker.postMessage(failure);
    } finally {
      toWorker.ring();
      // the worker stopped reading early, or reading failed: close the file and the decoders
      if (!complete) await chunks.return?.();
    }
  })();

  try {
    return await result;
  } finally {
    Atomics.store(control, STOP, 1);
    toMain.ring(); // a feed waiting for room looks again
    tar.destroy(); // a feed waiting for the decoders' next chunk ends now, not at the archive's end
    await fed;
    await worker.terminate();
  }
}
