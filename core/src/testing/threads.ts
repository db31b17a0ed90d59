/**
 * The worker threads a piece of code starts, and how each ended. A plugin's thread should end
 * by itself when asked (exit code 0): `worker.terminate()` (exit code 1) is unsafe while the
 * thread may still be loading a native addon, since node-addon-api's module registration then
 * aborts the whole process (see PLUGINS.md).
 */
import type { Worker } from "node:worker_threads";

export interface ThreadExits<T> {
  /** What `body` returned. */
  result: T;
  /** Each thread `body` started, in start order: resolves with its exit code once it ends. */
  exits: Array<Promise<number>>;
}

/** Runs `body` and records the worker threads it starts (Node's `process` "worker" event). */
export async function recordThreads<T>(body: () => Promise<T>): Promise<ThreadExits<T>> {
  const exits: Array<Promise<number>> = [];
  const onWorker = (worker: Worker) => exits.push(new Promise((resolve) => worker.once("exit", resolve)));
  process.on("worker", onWorker);
  try {
    const result = await body();
    await new Promise((resolve) => setImmediate(resolve)); // Node emits "worker" on a later tick
    return { result, exits };
  } finally {
    process.off("worker", onWorker);
  }
}
