/**
 * Worker thread entry: runs the synchronous walker, filling the buffers the main thread hands
 * over and transferring them back full (see channel.ts). Loaded only by source.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { takeBuffer, type WorkerInput, type WorkerMessage } from "./channel.js";
import { NoValidSourceError, writeTar } from "./walker.js";

const input = workerData as WorkerInput | undefined;
if (parentPort && input?.plan) {
  const port = parentPort;
  const control = new Int32Array(input.control);
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  try {
    const progress = writeTar(input.plan, {
      allocate: () => takeBuffer(input.buffers, control),
      chunk: (data, progress) => post({ type: "chunk", data, progress }, [data.buffer as ArrayBuffer]),
      warn: (message) => post({ type: "warn", message }),
      debug: (message) => post({ type: "debug", message }),
    });
    post({ type: "end", progress });
  } catch (err) {
    // an expected outcome travels as a message; anything else is a bug and surfaces as the worker's error
    if (!(err instanceof NoValidSourceError)) throw err;
    post({ type: "fail", message: err.message });
  }
}
