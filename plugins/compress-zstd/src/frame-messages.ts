/** What the frame compressor (frames.ts) and its threads (frame-worker.ts) say to each other. */

export interface WorkerSetup {
  readonly level: number;
  /** Bytes per output slab. */
  readonly outSlabSize: number;
}

export type ToWorker =
  /** Input for frame `frame`: `length` bytes of `slab` (if any), then the frame's end (if `end`). */
  | { readonly frame: number; readonly slab?: ArrayBuffer; readonly length: number; readonly end: boolean; readonly close?: undefined }
  /** No more frames: the thread ends. */
  | { readonly close: true };

export type FromWorker =
  /** An input slab zstd has taken, free again. */
  | { readonly type: "slab"; readonly slab: ArrayBuffer }
  /** `length` bytes of frame `frame`'s output; with `end`, its last. */
  | { readonly type: "output"; readonly frame: number; readonly slab: ArrayBuffer; readonly length: number; readonly end: boolean }
  | { readonly type: "error"; readonly message: string };
