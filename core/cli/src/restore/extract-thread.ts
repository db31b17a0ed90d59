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
 * reads the tar as views of the ring (see LAG in extract-worker.ts). When the last decoder
 * shares its own output ring (sov's zstd, which decodes on a thread of its own), that is the
 * ring: the event-loop thread then only reads and decrypts, and the plaintext is copied once.
 * `--verify` reads the tar on the same worker (verifyTarOnThread). A reading error on this
 * side (damage, a wrong key, truncation) goes to the worker with its stage, and ends its tar
 * as it would have ended the extractor's; the worker's log lines come back to `options.log`.
 */
import type { Readable } from "node:stream";
import { Worker } from "node:worker_threads";
import { errorMessage, silentLogger, type Logger } from "@sov/core";
import { finished } from "node:stream/promises";
import { BELL_TO_MAIN, BELL_TO_WORKER, ByteRing, Doorbell, INPUT_ENDED, type SharedOutput, STOP, writeAllToRing } from "@sov/core/byte-ring";
import { chunksOf } from "./chunks.js";
import { type ExtractOptions, type ExtractReport, resolveTarget } from "./extract.js";
import { CONTROL_SLOTS, type ExtractMessage, type ExtractWorkerSetup, type InputFailure, type TarJob } from "./extract-messages.js";
import { verifyTar, type VerifyReport } from "./tar-verify.js";
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
  return (await readTarOnThread(tar, { kind: "extract", root, options: rest }, log)) as ExtractReport;
}

/**
 * verifyTar(tar), with the tar read on the same worker when the last decoder shares its output
 * ring (`--verify` of 200,000 small files spent half its time on this thread reading their
 * headers); otherwise on this thread, since copying the plaintext into a ring of its own would
 * cost this thread more than the headers (a 1 GiB archive of large files: 0.4 s of CPU more).
 */
export async function verifyTarOnThread(tar: Readable): Promise<VerifyReport> {
  if (!sharesOutput(tar)) return verifyTar(tar);
  return (await readTarOnThread(tar, { kind: "verify" }, silentLogger())) as VerifyReport;
}

function sharesOutput(tar: Readable): tar is Readable & { shareOutput(): SharedOutput } {
  return typeof (tar as Readable & { shareOutput?: unknown }).shareOutput === "function";
}

async function readTarOnThread(tar: Readable, job: TarJob, log: Logger): Promise<ExtractReport | VerifyReport> {
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  // A decoder that shares its output ring (sov's threaded zstd) is read in place by the worker:
  // the plaintext is copied once, by the decoder, and this thread only decrypts. Other
  // decoders' output is copied into a ring of this thread's.
  const shared = sharesOutput(tar) ? tar.shareOutput() : undefined;
  let ring: ByteRing | undefined;
  let channel: Pick<ExtractWorkerSetup, "ring" | "bells" | "dataBell" | "roomBell">;
  if (shared) {
    // written by the decoder's thread, which rings BELL_TO_MAIN
    channel = { ring: shared.ring, bells: shared.control, dataBell: BELL_TO_MAIN, roomBell: BELL_TO_WORKER };
  } else {
    ring = new ByteRing(ByteRing.allocate(RING_SIZE));
    channel = { ring: ring.shared, bells: control.buffer as SharedArrayBuffer, dataBell: BELL_TO_WORKER, roomBell: BELL_TO_MAIN };
  }
  const setup: ExtractWorkerSetup = { ...channel, control: control.buffer as SharedArrayBuffer, job };
  const worker = new Worker(new URL("./extract-worker.js", import.meta.url), { workerData: setup });

  const result = new Promise<ExtractReport | VerifyReport>((resolve, reject) => {
    worker.on("message", (message: ExtractMessage) => {
      if (message.type === "log") log[message.level](message.message);
      else if (message.type === "done") resolve(message.report);
      else reject(new Error(message.message));
    });
    worker.on("error", (err) => reject(new Error(`the extraction thread failed: ${err.message}`, { cause: err })));
    worker.on("exit", (code) => reject(new Error(`the extraction thread stopped before its report (exit code ${code})`)));
  });
  const stopped = () => Atomics.load(control, STOP) === 1;
  /** Rung when there are bytes to read, the input ended, or it failed; the worker waits on it. */
  const toWorker = new Doorbell(new Int32Array(setup.bells), setup.dataBell);
  const toMain = new Doorbell(control, BELL_TO_MAIN);
  const fail = (err: unknown) => {
    const failure: InputFailure = { stage: stageOf(err), message: errorMessage(err) };
    worker.postMessage(failure);
  };

  /** The decoder fills its own ring: what is left here is to tell the worker how the input ended. */
  const relayEnd = async () => {
    try {
      await finished(tar.resume());
      Atomics.store(control, INPUT_ENDED, 1);
    } catch (err) {
      if (!stopped()) fail(err);
    } finally {
      toWorker.ring();
    }
  };
  /** Copies the decoded stream into `into`, then tells the worker how it ended. */
  const copyInto = async (into: ByteRing) => {
    // a decoder that can refill the pieces it pushed gets each one back once it is copied
    const recycle = (tar as Readable & { recycle?: (piece: Buffer) => void }).recycle?.bind(tar);
    const chunks = chunksOf(tar);
    let complete = false;
    try {
      for (let next = await chunks.next(); !next.done && !stopped(); next = await chunks.next()) {
        if (await writeAllToRing(into, next.value, toWorker, toMain, () => !stopped())) recycle?.(next.value);
      }
      complete = !stopped();
      Atomics.store(control, INPUT_ENDED, 1);
    } catch (err) {
      fail(err);
    } finally {
      toWorker.ring();
      // the worker stopped reading early, or reading failed: close the file and the decoders
      if (!complete) await chunks.return?.();
    }
  };
  const fed = ring ? copyInto(ring) : relayEnd();

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
