/**
 * The threaded decoder's worker (see decode-thread.ts): decodes what the input ring holds
 * straight into the output ring, until the input has ended and all of it is decoded, or until
 * it is told to stop. It blocks only in Atomics.wait, on the event-loop thread's doorbell.
 */
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
import { BELL_TO_MAIN, BELL_TO_WORKER, ByteRing, Doorbell, INPUT_ENDED, STOP } from "@sov/core/byte-ring";
import { type DecodeFailure, type DecodeWorkerSetup, DONE, ENDED_IN_FRAME, FAILED, STATE } from "./decode-messages.js";

type Binding = typeof import("zstd-napi/binding.js");
// zstd-napi's native binding is CommonJS without named exports an ES import can see.
const binding = createRequire(import.meta.url)("zstd-napi/binding.js") as Binding;
const setup = workerData as DecodeWorkerSetup;
const input = new ByteRing(setup.input);
const output = new ByteRing(setup.output);
const control = new Int32Array(setup.control);
const toWorker = new Doorbell(control, BELL_TO_WORKER);
const toMain = new Doorbell(control, BELL_TO_MAIN);

function decode(): void {
  const dctx = new binding.DCtx();
  let inFrame = false;
  /**
   * The last call made progress, so zstd may hold more output even with no new input (a run
   * of zeros is a few bytes of input for a whole block of output). Only a call that moves
   * nothing shows it holds none: with less room than a block, a short output does not.
   */
  let mayHoldOutput = false;
  for (;;) {
    const mark = toWorker.mark();
    if (Atomics.load(control, STOP)) return;
    const compressed = input.readView();
    if (compressed.length === 0 && !mayHoldOutput) {
      if (Atomics.load(control, INPUT_ENDED) && input.readable() === 0) break;
      toWorker.wait(mark);
      continue;
    }
    const room = output.writeView();
    if (room.length === 0) {
      toWorker.wait(mark);
      continue;
    }
    const [remaining, produced, consumed] = dctx.decompressStream(room, compressed);
    output.commit(produced);
    input.consume(consumed);
    mayHoldOutput = produced > 0 || consumed > 0;
    // a call that moves nothing after a frame's end asks for the next frame's header (9): only
    // one that made progress says whether the stream stands inside a frame
    if (mayHoldOutput) inFrame = remaining !== 0;
    toMain.ring();
  }
  Atomics.store(control, ENDED_IN_FRAME, inFrame ? 1 : 0);
  Atomics.store(control, STATE, DONE);
  toMain.ring();
}

try {
  decode();
} catch (err) {
  const failure: DecodeFailure = { message: err instanceof Error ? err.message : String(err) };
  parentPort!.postMessage(failure);
  Atomics.store(control, STATE, FAILED);
  toMain.ring();
}
