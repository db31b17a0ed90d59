/** What restore's extraction thread (extract-thread.ts) and its worker (extract-worker.ts) say to each other. */
import type { ExtractOptions, ExtractReport } from "./extract.js";
import type { VerifyReport } from "./tar-verify.js";

/** What the worker does with the tar: extract it into `root` (the real path of TARGET, checked by the event-loop thread), or only read it (`--verify`). */
export type TarJob = { readonly kind: "extract"; readonly root: string; readonly options: Omit<ExtractOptions, "log"> } | { readonly kind: "verify" };

export interface ExtractWorkerSetup {
  /** ByteRing memory: the plaintext tar (this thread's ring, or the decoder's shared output). */
  readonly ring: SharedArrayBuffer;
  /** The ring's doorbells: `dataBell` is rung when there is more to read, `roomBell` by the worker once it consumed. */
  readonly bells: SharedArrayBuffer;
  readonly dataBell: number;
  readonly roomBell: number;
  /** Int32 slots, indexed by the constants below. */
  readonly control: SharedArrayBuffer;
  readonly job: TarJob;
}

/**
 * The control slots are @sov/core/byte-ring's channel: INPUT_ENDED once the whole tar is in the
 * ring, STOP once the worker reads no more (the event-loop thread stops feeding it).
 */
export { CHANNEL_SLOTS as CONTROL_SLOTS } from "@sov/core/byte-ring";

/** To the worker: reading the archive failed at `stage` (decrypting, decompressing, reading FILE). */
export interface InputFailure {
  readonly stage: string | undefined;
  readonly message: string;
}

/** From the worker. */
export type ExtractMessage =
  | { readonly type: "log"; readonly level: "debug" | "info" | "warn" | "error"; readonly message: string }
  | { readonly type: "done"; readonly report: ExtractReport | VerifyReport }
  | { readonly type: "failed"; readonly message: string };
