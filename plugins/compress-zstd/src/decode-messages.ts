/** What the threaded decoder (decode-thread.ts) and its worker (decode-worker.ts) share. */
import { CHANNEL_SLOTS } from "@sov/core/byte-ring";

export interface DecodeWorkerSetup {
  /** ByteRing memory: compressed bytes in, decoded bytes out. */
  readonly input: SharedArrayBuffer;
  readonly output: SharedArrayBuffer;
  /** Int32 slots, indexed by the constants below. */
  readonly control: SharedArrayBuffer;
}

// BELL_TO_WORKER, BELL_TO_MAIN, INPUT_ENDED and STOP are @sov/core/byte-ring's channel slots.
/** The worker's state: RUNNING, then DONE (all input decoded, all output in the ring) or FAILED. */
export const STATE = CHANNEL_SLOTS;
/** With DONE: 1 if the input ended inside a frame (a truncated archive). */
export const ENDED_IN_FRAME = CHANNEL_SLOTS + 1;
export const CONTROL_SLOTS = CHANNEL_SLOTS + 2;

export const RUNNING = 0;
export const DONE = 1;
export const FAILED = 2;

/** Posted by the worker when decoding fails; STATE is FAILED by then. */
export interface DecodeFailure {
  readonly message: string;
}
