/**
 * Restore's extraction worker (see extract-thread.ts): reads the plaintext tar from the ring and
 * extracts it with the extractor every restore uses, forwarding its log lines, or for `--verify`
 * only reads it with verifyTar; posts the report.
 */
import { parentPort, workerData } from "node:worker_threads";
import { BELL_TO_MAIN, ByteRing, Doorbell, INPUT_ENDED, STOP } from "@sov/core/byte-ring";
import type { Logger } from "@sov/core/log";
import { extractInto } from "./extract.js";
import { verifyTar } from "./tar-verify.js";
import type { ExtractMessage, ExtractWorkerSetup, InputFailure } from "./extract-messages.js";
import { tagStage } from "./stage.js";

const setup = workerData as ExtractWorkerSetup;
const ring = new ByteRing(setup.ring);
const control = new Int32Array(setup.control);
const bells = new Int32Array(setup.bells);
/** Rung when the ring has more, or the input ended or failed. */
const toWorker = new Doorbell(bells, setup.dataBell);
/** Rung once bytes are given back to the ring. */
const roomMade = new Doorbell(bells, setup.roomBell);
/** Rung when this worker stops reading (STOP). */
const toMain = new Doorbell(control, BELL_TO_MAIN);
const port = parentPort!;
/** The most one piece of the tar holds. */
const PIECE = 128 * 1024;
/**
 * Pieces are views of the ring, and their bytes are given back to the ring only once this many
 * more have been handed out: the extractor holds a file's pieces until it has 1 MiB of them
 * (WRITE_BATCH) and has written them, and the tar reader the piece it reads from. So the
 * extraction allocates nothing per piece (a copy per piece left ~64 MiB of dead buffers for the
 * collector on a 1 GiB restore).
 */
const LAG = 2 << 20;

let inputFailure: Error | undefined;
port.on("message", (failure: InputFailure) => {
  inputFailure = new Error(failure.message);
  if (failure.stage) tagStage(inputFailure, failure.stage);
  toWorker.ring(); // wakes this thread's own wait in tar()
});

/** The tar, as views of the ring (see LAG). */
async function* tar(): AsyncGenerator<Buffer> {
  let handedOut = 0;
  for (;;) {
    // the doorbell, then the end or failure, then the ring: bytes added before either are
    // never missed, and what was read before a failure is still extracted, as it is inline
    const mark = toWorker.mark();
    const failure = inputFailure;
    const ended = Atomics.load(control, INPUT_ENDED) === 1;
    const view = ring.readView(handedOut);
    if (view.length > 0) {
      const n = Math.min(view.length, PIECE);
      handedOut += n;
      if (handedOut > LAG) {
        ring.consume(handedOut - LAG);
        handedOut = LAG;
        roomMade.ring();
      }
      yield Buffer.from(view.buffer, view.byteOffset, n);
      continue;
    }
    if (failure) throw failure;
    if (ended) return;
    await toWorker.whenRung(mark);
  }
}

function post(message: ExtractMessage): void {
  port.postMessage(message);
}

function forwardingLogger(): Logger {
  const warnings: string[] = [];
  const logger: Logger = {
    debug: (message) => post({ type: "log", level: "debug", message }),
    info: (message) => post({ type: "log", level: "info", message }),
    warn: (message) => {
      warnings.push(message);
      post({ type: "log", level: "warn", message });
    },
    error: (message) => post({ type: "log", level: "error", message }),
    child: () => logger,
    warnings,
  };
  return logger;
}

try {
  const job = setup.job;
  const report = job.kind === "extract" ? await extractInto(tar(), job.root, { ...job.options, log: forwardingLogger() }) : await verifyTar(tar());
  post({ type: "done", report });
} catch (err) {
  post({ type: "failed", message: err instanceof Error ? err.message : String(err) });
} finally {
  Atomics.store(control, STOP, 1);
  toMain.ring();
  port.close();
}
