/**
 * Worker thread entry: runs the synchronous walker, filling the buffers the main thread hands
 * over and transferring them back full (see channel.ts); or, for the preview, the same walk
 * posting its decisions in batches, one batch for each go-ahead. Loaded only by source.ts.
 */
import { parentPort, workerData } from "node:worker_threads";
import { takeBuffer, type WorkerInput, type WorkerMessage } from "./channel.js";
import { NoValidSourceError, previewSelection, writeTar } from "./walker.js";

const input = workerData as WorkerInput | undefined;
if (parentPort && input?.plan) {
  const port = parentPort;
  const control = new Int32Array(input.control);
  const post = (message: WorkerMessage, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);
  const warn = (message: string) => post({ type: "warn", message });
  try {
    if (input.mode === "preview") {
      previewSelection(input.plan, {
        decisions: (batch) => {
          takeBuffer(input.buffers, control);
          post({ type: "decisions", batch });
        },
        warn,
        debug: () => {}, // the decisions say it all
      });
      post({ type: "end" });
    } else {
      const progress = writeTar(input.plan, {
        allocate: () => {
          const buffer = takeBuffer(input.buffers, control);
          if (!buffer) throw new Error("the tar walker was given no buffer");
          return buffer;
        },
        chunk: (data, progress) => post({ type: "chunk", data, progress }, [data.buffer as ArrayBuffer]),
        warn,
        debug: (message) => post({ type: "debug", message }),
      });
      post({ type: "end", progress });
    }
  } catch (err) {
    // an expected outcome travels as a message; anything else is a bug and surfaces as the worker's error
    if (!(err instanceof NoValidSourceError)) throw err;
    post({ type: "fail", message: err.message });
  }
}
