/**
 * One of the frame compressor's threads (see frames.ts): compresses the frames it is given,
 * single-threaded, as their input arrives. Input slabs go back as soon as zstd has taken them;
 * output goes out in slabs of its own, whole ones as they fill and the rest at the frame's end.
 */
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";
import type { ToWorker, FromWorker, WorkerSetup } from "./frame-messages.js";

type Binding = typeof import("zstd-napi/binding.js");
// zstd-napi's native binding is CommonJS without named exports an ES import can see.
const binding = createRequire(import.meta.url)("zstd-napi/binding.js") as Binding;
const { level, outSlabSize } = workerData as WorkerSetup;
const port = parentPort!;

const cctx = new binding.CCtx();
cctx.setParameter(binding.CParameter.compressionLevel, level);
cctx.setParameter(binding.CParameter.checksumFlag, 1);

let out = Buffer.allocUnsafeSlow(outSlabSize);
let outFill = 0;

function send(message: FromWorker, transfer: ArrayBuffer[]): void {
  port.postMessage(message, transfer);
}

/** Feeds `input` to zstd; with `end`, until the frame is written whole. Full output slabs go out at once. */
function compress(frame: number, input: Buffer, end: boolean): void {
  const op = end ? binding.EndDirective.end : binding.EndDirective.continue;
  for (;;) {
    const [remaining, written, consumed] = cctx.compressStream2(out.subarray(outFill), input, op);
    outFill += written;
    input = input.subarray(consumed);
    if (outFill === out.length) flushOutput(frame, false);
    if (input.length === 0 && (!end || remaining === 0)) return;
  }
}

function flushOutput(frame: number, end: boolean): void {
  const slab = out.buffer as ArrayBuffer;
  send({ type: "output", frame, slab, length: outFill, end }, [slab]);
  out = Buffer.allocUnsafeSlow(outSlabSize);
  outFill = 0;
}

port.on("message", (message: ToWorker) => {
  if (message.close) return port.close(); // nothing else keeps the thread alive: it ends
  try {
    if (message.slab) {
      compress(message.frame, Buffer.from(message.slab, 0, message.length), false);
      send({ type: "slab", slab: message.slab }, [message.slab]);
    }
    if (message.end) {
      compress(message.frame, Buffer.alloc(0), true);
      flushOutput(message.frame, true);
    }
  } catch (err) {
    send({ type: "error", message: err instanceof Error ? err.message : String(err) }, []);
  }
});
