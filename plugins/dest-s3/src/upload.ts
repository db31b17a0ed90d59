import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";
import { NameTakenError, type ObjectUpload } from "@sov/core";
import { explainS3Error, errorCode, httpStatus, type S3Target } from "./s3-errors.js";

/** How an upload spends memory: at most `queueSize` parts of `partSize` bytes exist at once. */
export interface UploadLimits {
  readonly partSize: number;
  readonly queueSize: number;
}

export interface UploadTarget extends S3Target {
  readonly client: S3Client;
  readonly key: string;
  /** The object's name in the store (the key without the prefix), for NameTakenError. */
  readonly name: string;
  /** Object Lock headers every object gets, if the destination sets object_lock. */
  readonly lock?: { mode: "GOVERNANCE" | "COMPLIANCE"; until: Date };
  /** True when the final key holds an object (complete() must not replace it). */
  exists(): Promise<boolean>;
}

/** S3 allows 10,000 parts per upload. */
const MAX_PARTS = 10_000;

/**
 * An object written with a multipart upload that stays invisible until `complete()`.
 *
 * Not lib-storage's `Upload`: it completes the upload by itself as soon as the body ends (and
 * sends a body shorter than one part as a plain PutObject), so the archive would appear before
 * the core decided to commit it. Here the parts go up as they fill, at most `queueSize` buffers
 * alive, and only `complete()` makes the object visible. An object shorter than one part is
 * held and sent by `complete()` as one PutObject with `If-None-Match: *`, which never replaces.
 */
export class MultipartUpload implements ObjectUpload {
  readonly writable: Writable & { readonly bytesWritten: number };
  private uploadId: Promise<string> | undefined;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** The part being filled, and how many bytes it holds. */
  private filling: Buffer | undefined;
  private filled = 0;
  /** Part buffers whose upload finished, reused so memory stays bounded whatever the GC does. */
  private readonly spare: Buffer[] = [];
  private acknowledged = 0;
  /** The bytes of an object shorter than one part, sent by `complete()`. */
  private smallBody: Buffer | undefined;
  private finished = false;
  private partsStarted = 0;

  constructor(private readonly target: UploadTarget, private readonly limits: UploadLimits) {
    const upload = this;
    const writable = new Writable({
      highWaterMark: 1024 * 1024,
      write(chunk: Buffer, _encoding, callback) {
        upload.take(chunk).then(() => callback(), callback);
      },
      final(callback) {
        upload.finish().then(() => callback(), callback);
      },
    });
    Object.defineProperty(writable, "bytesWritten", { get: () => upload.acknowledged });
    this.writable = writable as Writable & { readonly bytesWritten: number };
  }

  async complete(): Promise<void> {
    if (!this.finished) throw new Error(`s3 upload of ${this.target.key}: complete() before the stream finished`);
    const { client, bucket, key, lock } = this.target;
    // Ceph 16 ignores If-None-Match on versioned buckets (every Object Lock bucket) and on
    // CompleteMultipartUpload: look first, so a taken name is left alone (a race with another
    // writer remains; on a versioned bucket it would add a version, not destroy one).
    if (await this.target.exists()) throw new NameTakenError(this.target.name);
    if (this.smallBody) {
      try {
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: key, Body: this.smallBody, IfNoneMatch: "*", ContentMD5: md5(this.smallBody), ...lockParams(lock) }),
        );
      } catch (err) {
        if (httpStatus(err) === 412 || errorCode(err) === "PreconditionFailed") throw new NameTakenError(this.target.name);
        throw explainS3Error(err, this.target, `PUT ${key}`);
      }
      return;
    }
    const parts = [...this.parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    try {
      await client.send(
        new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: await this.uploadId!, MultipartUpload: { Parts: parts }, IfNoneMatch: "*" }),
      );
    } catch (err) {
      if (httpStatus(err) === 412 || errorCode(err) === "PreconditionFailed") throw new NameTakenError(this.target.name);
      throw explainS3Error(err, this.target, `complete the upload of ${key}`);
    }
    await this.ensureRetention();
  }

  /** Ceph 16 drops the Object Lock headers of CreateMultipartUpload: set the retention afterwards if so. */
  private async ensureRetention(): Promise<void> {
    const { client, bucket, key, lock } = this.target;
    if (!lock) return;
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      if (head.ObjectLockRetainUntilDate && head.ObjectLockRetainUntilDate >= lock.until) return;
      await client.send(
        new PutObjectRetentionCommand({ Bucket: bucket, Key: key, Retention: { Mode: lock.mode, RetainUntilDate: lock.until } }),
      );
    } catch (err) {
      throw explainS3Error(err, this.target, `set the Object Lock retention of ${key}`);
    }
  }

  async discard(): Promise<void> {
    this.writable.destroy();
    this.smallBody = undefined;
    this.filling = undefined;
    await Promise.allSettled([...this.inFlight]);
    if (!this.uploadId) return;
    const uploadId = await this.uploadId.catch(() => undefined);
    if (!uploadId) return;
    const { client, bucket, key } = this.target;
    try {
      await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
    } catch (err) {
      if (errorCode(err) !== "NoSuchUpload") throw explainS3Error(err, this.target, `abort the upload of ${key}`);
    }
  }

  /** Copies into the part being filled (one copy, no concatenation) and sends each full part. */
  private async take(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      this.filling ??= this.spare.pop() ?? Buffer.allocUnsafe(this.limits.partSize);
      const copied = chunk.copy(this.filling, this.filled, at);
      this.filled += copied;
      at += copied;
      if (this.filled === this.limits.partSize) {
        const part = this.filling;
        this.filling = undefined;
        this.filled = 0;
        await this.sendPart(part);
      }
    }
  }

  private async finish(): Promise<void> {
    const last = this.filling ? this.filling.subarray(0, this.filled) : Buffer.alloc(0);
    this.filling = undefined;
    this.filled = 0;
    if (!this.uploadId) {
      this.smallBody = last;
      this.acknowledged = last.length;
    } else {
      if (last.length) await this.sendPart(last);
      while (this.inFlight.size) await Promise.race(this.inFlight);
    }
    this.finished = true;
  }

  /** Starts one part; waits first while the queue is full. A failed part fails the next write. */
  private async sendPart(body: Buffer): Promise<void> {
    this.uploadId ??= this.createUpload();
    // The part being filled counts against the queue too: memory stays <= partSize x queueSize.
    while (this.inFlight.size >= Math.max(1, this.limits.queueSize - 1)) await Promise.race(this.inFlight);
    const partNumber = ++this.partsStarted;
    if (partNumber > MAX_PARTS) {
      throw new Error(`s3 upload of ${this.target.key}: more than ${MAX_PARTS} parts of ${this.limits.partSize} bytes; the archive is too large for one S3 object`);
    }
    const { client, bucket, key } = this.target;
    const uploadId = await this.uploadId;
    const sending = client
      .send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentMD5: md5(body) }))
      .then(
        (result) => {
          this.parts.push({ PartNumber: partNumber, ETag: result.ETag });
          this.acknowledged += body.length;
          if (body.length === this.limits.partSize) this.spare.push(body);
        },
        (err: unknown) => {
          throw explainS3Error(err, this.target, `upload part ${partNumber} of ${key}`);
        },
      )
      .finally(() => this.inFlight.delete(sending));
    this.inFlight.add(sending);
    // Surface a failure at once, not only when the queue next fills.
    sending.catch((err: unknown) => this.writable.destroy(err as Error));
  }

  private async createUpload(): Promise<string> {
    const { client, bucket, key, lock } = this.target;
    try {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...lockParams(lock) }));
      return created.UploadId!;
    } catch (err) {
      throw explainS3Error(err, this.target, `start the upload of ${key}`);
    }
  }
}

function lockParams(lock: UploadTarget["lock"]) {
  return lock ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.until } : {};
}

/** Content-MD5 lets the store check every byte it got; Object Lock requests require it. */
function md5(body: Buffer): string {
  return createHash("md5").update(body).digest("base64");
}
