import type { Readable, Writable } from "node:stream";

/**
 * The storage contract: what a destination implements so that the core can stage, publish,
 * check, list, read and prune archives on it. A store knows how its medium writes, names, lists
 * and reads objects; the core's staging (one implementation, for every store) decides names,
 * temporary names, when an archive becomes visible, checksum sidecars and cleanup, and checks
 * at run time that the store kept its side of the contract.
 *
 * Two ways to publish, declared in `features.publish`:
 *  - `"rename"`: the core writes a temporary object (`writeTemporary`) under a name that never
 *    parses as an archive, then asks the store to `publish` it under the final name, which must
 *    fail with a `NameTakenError` rather than replace an object that is there (a hard link, a
 *    no-replace rename, ...). Directories, SFTP, rclone remotes.
 *  - `"upload"`: the store writes straight to the final name, and nothing is visible under it
 *    until `complete()` (an S3 multipart upload). No temporary name is faked.
 */
export interface ArchiveStore {
  /** The configured destination name (`local`, `offsite`, ...): `--target` and logs use it. */
  readonly name: string;
  readonly features: StoreFeatures;
  /** Lines for `sov list` and `--dry-run`. */
  describe(): string[];
  /** Gets the store ready for a run (creates a directory, mounts a stick, connects). */
  open(): Promise<void>;
  /** Always called once after a successful `open()`, also when the run failed. */
  close(): Promise<void>;
  /**
   * Every object directly in the store's archive area: archives, sidecars and temporaries alike;
   * the core filters. Paginate inside: the core wants the whole list.
   */
  list(): Promise<StoredObject[]>;
  /** One object's size, or null when there is no object by that name. */
  stat(name: string): Promise<StoredObject | null>;
  /** Reads an object, or the byte range `[start, end)` of it (ranged GETs, pread, offset reads). */
  read(name: string, range?: ByteRange): Readable;
  /** Removes an object; resolves when it is gone (a missing object is not an error). */
  remove(name: string): Promise<void>;

  /** `features.publish === "rename"`: starts writing a temporary object; fails if the name exists. */
  writeTemporary?(temporaryName: string): Promise<ObjectWrite>;
  /**
   * `features.publish === "rename"`: makes the finished temporary object visible as `finalName`,
   * durably where the medium can (fsync of the directory), and removes the temporary name.
   * Throws `NameTakenError` when `finalName` exists: never replaces it.
   */
  publish?(temporaryName: string, finalName: string): Promise<void>;
  /** `features.publish === "upload"`: starts an upload that is invisible until `complete()`. */
  beginUpload?(finalName: string): Promise<ObjectUpload>;
  /**
   * Uploads begun and never completed or aborted (a killed run), for the core to abort when the
   * process that began them is gone. `"upload"` stores only.
   */
  listIncompleteUploads?(): Promise<IncompleteUpload[]>;
}

/** What a store can do, as data the core branches on (never on a plugin's name). */
export interface StoreFeatures {
  /** How an archive becomes visible; see `ArchiveStore`. */
  readonly publish: "rename" | "upload";
  /**
   * Where the archives lie on this host's filesystem, if they do: `sov install` grants the
   * service write access to it (ReadWritePaths=).
   */
  readonly localPath?: string;
  /**
   * The store is attached only for the run (a USB stick): `sov install`'s daily timer leaves it
   * out unless asked for, grants write access to `mountPoint`, and a dry run never opens it.
   */
  readonly removable?: { readonly mountPoint: string };
  /** `list()`, `stat()` and `read()` need `open()` first (a mount, a connection). */
  readonly needsOpen?: boolean;
  /** The store refuses deletes of objects it keeps locked (S3 Object Lock): see `lockedUntil`. */
  readonly objectLock?: boolean;
}

export interface StoredObject {
  readonly name: string;
  readonly size: number;
  /** Where a person finds it (an absolute path, `s3://bucket/key`, `sftp://...`). */
  readonly location: string;
  /** For stores with `objectLock`: until when the object cannot be removed. */
  readonly lockedUntil?: Date;
}

/** A half-open byte range: `start` inclusive, `end` exclusive; the core never asks for an empty one. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A temporary object being written. The writable's `final` must make the bytes durable (fsync)
 * before it calls back; `bytesWritten` counts what the medium acknowledged.
 */
export interface ObjectWrite {
  readonly writable: Writable & { readonly bytesWritten: number };
  /** Stops writing and removes the temporary object (best effort: the next run also cleans up). */
  discard(): Promise<void>;
}

/** An upload invisible under its final name until `complete()`. */
export interface ObjectUpload extends ObjectWrite {
  /** Makes the object visible; throws `NameTakenError` if the store can tell the name is taken. */
  complete(): Promise<void>;
}

export interface IncompleteUpload {
  readonly name: string;
  /** When the upload began: the core aborts only uploads older than the lock it holds. */
  readonly startedAt: Date;
  abort(): Promise<void>;
}

/** `publish()` or `complete()` found an object under the final name already; nothing was replaced. */
export class NameTakenError extends Error {
  readonly code = "EEXIST";
  constructor(readonly objectName: string) {
    super(`${objectName} exists already`);
    this.name = "NameTakenError";
  }
}
