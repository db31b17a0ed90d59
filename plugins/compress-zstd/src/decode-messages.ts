/** What the threaded decoder (decode-thread.ts) and its worker (decode-worker.ts) share. */

export interface DecodeWorkerSetup {
  /** ByteRing memory: compressed bytes in, decoded bytes out. */
  readonly input: SharedArrayBuffer;
  readonly output: SharedArrayBuffer;
  /** Int32 slots, indexed by the constants below. */
  readonly control: SharedArrayBuffer;
}

/** Bumped and notified by the event-loop thread after it moved a ring counter or set INPUT_ENDED or STOP. */
export const BELL_TO_WORKER = 0;
/** Bumped and notified by the worker after it moved a ring counter, finished or failed. */
export const BELL_TO_MAIN = 1;
/** 1 once the last compressed byte is in the input ring. */
export const INPUT_ENDED = 2;
/** 1 when the worker must stop now (the stream was destroyed). */
export const STOP = 3;
/** The worker's state: RUNNING, then DONE (all input decoded, all output in the ring) or FAILED. */
export const STATE = 4;
/** With DONE: 1 if the input ended inside a frame (a truncated archive). */
export const ENDED_IN_FRAME = 5;
export const CONTROL_SLOTS = 6;

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;

/** Posted by the worker when decoding fails; STATE is FAILED by then. */
export interface DecodeFailure {
  readonly message: string;
}
