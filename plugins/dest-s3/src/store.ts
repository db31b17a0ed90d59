import { PassThrough, Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from "@aws-sdk/client-s3";
import { RunError, type ArchiveStore, type ByteRange, type IncompleteUpload, type ObjectUpload, type StoredObject, type StoreFeatures } from "@sov/core";
import { errorCode, explainS3Error, httpStatus, type S3Target } from "./s3-errors.js";
import { MultipartUpload, type UploadLimits } from "./upload.js";

export interface S3StoreSettings extends S3Target {
  /** The destination's name in the config. */
  readonly name: string;
  /** `""` or ending in `/`. */
  readonly prefix: string;
  readonly objectLock?: { readonly mode: "governance" | "compliance"; readonly days: number };
  readonly limits: UploadLimits;
  /** Keys per ListObjectsV2 page (S3's maximum is 1000); lowered by tests to prove paging. */
  readonly pageSize?: number;
}

/** Retention lookups at once while listing a locked bucket: one HEAD per object. */
const LOCK_LOOKUPS_IN_FLIGHT = 16;

/**
 * An S3 bucket (any S3-compatible server) as an `"upload"` store: archives are multipart
 * uploads that appear only when completed. Names are relative to the prefix.
 */
export class S3Store implements ArchiveStore {
  readonly name: string;
  readonly features: StoreFeatures;

  constructor(private readonly client: S3Client, private readonly settings: S3StoreSettings) {
    this.name = settings.name;
    this.features = settings.objectLock ? { publish: "upload", objectLock: true } : { publish: "upload" };
  }

  describe(): string[] {
    const lock = this.settings.objectLock;
    return [
      `s3 ${this.location("")} at ${this.settings.endpoint}`,
      ...(lock ? [`object lock: ${lock.mode}, ${lock.days} day${lock.days === 1 ? "" : "s"} per archive`] : []),
    ];
  }

  /** Checks early that the bucket exists, the keys work and, with object_lock, that the bucket has Object Lock. */
  async open(): Promise<void> {
    const { bucket } = this.settings;
    try {
      // A listing, not HeadBucket: a HEAD's error has no body, so no code saying what is wrong.
      await this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: this.settings.prefix, MaxKeys: 1 }));
    } catch (err) {
      throw explainS3Error(err, this.settings, "check the bucket");
    }
    if (!this.settings.objectLock) return;
    let enabled = false;
    try {
      const config = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: bucket }));
      enabled = config.ObjectLockConfiguration?.ObjectLockEnabled === "Enabled";
    } catch (err) {
      if (errorCode(err) !== "ObjectLockConfigurationNotFoundError") throw explainS3Error(err, this.settings, "read the bucket's Object Lock configuration");
    }
    if (!enabled) {
      throw new RunError(`s3 bucket ${bucket} at ${this.settings.endpoint} has no Object Lock, but object_lock is set: create the bucket with Object Lock enabled, or remove object_lock`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  async list(): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: this.settings.prefix,
            Delimiter: "/",
            ContinuationToken: token,
            ...(this.settings.pageSize ? { MaxKeys: this.settings.pageSize } : {}),
          }),
        );
      } catch (err) {
        throw explainS3Error(err, this.settings, "list the archives");
      }
      for (const entry of page.Contents ?? []) {
        const name = entry.Key!.slice(this.settings.prefix.length);
        if (name) objects.push({ name, size: entry.Size ?? 0, location: this.location(name) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return this.settings.objectLock ? this.withLocks(objects) : objects;
  }

  async stat(name: string): Promise<StoredObject | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: this.key(name) }));
      const lockedUntil = head.ObjectLockRetainUntilDate;
      return { name, size: head.ContentLength ?? 0, location: this.location(name), ...(lockedUntil ? { lockedUntil } : {}) };
    } catch (err) {
      if (httpStatus(err) === 404) return null;
      throw explainS3Error(err, this.settings, `HEAD ${this.key(name)}`);
    }
  }

  read(name: string, range?: ByteRange): Readable {
    const out = new PassThrough();
    if (range && range.end <= range.start) {
      out.end();
      return out;
    }
    const key = this.key(name);
    this.client
      .send(
        new GetObjectCommand({ Bucket: this.settings.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.end - 1}` } : {}) }),
        { abortSignal: abortOnDestroy(out) },
      )
      .then((got) => {
        const body = got.Body as Readable;
        body.on("error", (err) => out.destroy(explainS3Error(err, this.settings, `read ${key}`)));
        body.pipe(out);
      })
      .catch((err: unknown) => out.destroy(explainS3Error(err, this.settings, `read ${key}`)));
    return out;
  }

  /**
   * Deletes the object. An object still under Object Lock is refused here with its date rather
   * than sent a DeleteObject: on a versioned bucket that would only add a delete marker, hiding
   * the archive from restore while it still takes space.
   */
  async remove(name: string): Promise<void> {
    const key = this.key(name);
    if (this.settings.objectLock) {
      const found = await this.stat(name);
      if (found?.lockedUntil && found.lockedUntil > new Date()) throw this.lockedError(name, found.lockedUntil);
    }
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }));
    } catch (err) {
      if (httpStatus(err) === 403) {
        const lockedUntil = (await this.stat(name).catch(() => null))?.lockedUntil;
        if (lockedUntil && lockedUntil > new Date()) throw this.lockedError(name, lockedUntil);
      }
      throw explainS3Error(err, this.settings, `delete ${key}`);
    }
  }

  async beginUpload(finalName: string): Promise<ObjectUpload> {
    const lock = this.settings.objectLock;
    return new MultipartUpload(
      {
        ...this.settings,
        client: this.client,
        key: this.key(finalName),
        name: finalName,
        ...(lock ? { lock: { mode: lock.mode === "compliance" ? "COMPLIANCE" : "GOVERNANCE", until: new Date(Date.now() + lock.days * 86_400_000) } } : {}),
        exists: async () => (await this.stat(finalName)) !== null,
      },
      this.settings.limits,
    );
  }

  async listIncompleteUploads(): Promise<IncompleteUpload[]> {
    const { bucket, prefix } = this.settings;
    const uploads: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, Delimiter: "/", KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (err) {
        throw explainS3Error(err, this.settings, "list incomplete uploads");
      }
      for (const upload of page.Uploads ?? []) {
        const key = upload.Key!;
        const uploadId = upload.UploadId!;
        uploads.push({
          name: key.slice(prefix.length),
          startedAt: upload.Initiated ?? new Date(0),
          abort: async () => {
            try {
              await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
            } catch (err) {
              if (errorCode(err) !== "NoSuchUpload") throw explainS3Error(err, this.settings, `abort the upload of ${key}`);
            }
          },
        });
      }
      const more = page.IsTruncated === true;
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return uploads;
  }

  private key(name: string): string {
    return `${this.settings.prefix}${name}`;
  }

  private location(name: string): string {
    return `s3://${this.settings.bucket}/${this.key(name)}`;
  }

  /** Adds each object's retain-until date (a HEAD each, several at once). */
  private async withLocks(objects: StoredObject[]): Promise<StoredObject[]> {
    const result: StoredObject[] = new Array(objects.length);
    let next = 0;
    const worker = async () => {
      while (next < objects.length) {
        const i = next++;
        const found = await this.stat(objects[i]!.name);
        result[i] = found?.lockedUntil ? { ...objects[i]!, lockedUntil: found.lockedUntil } : objects[i]!;
      }
    };
    await Promise.all(Array.from({ length: Math.min(LOCK_LOOKUPS_IN_FLIGHT, objects.length) }, worker));
    return result;
  }

  private lockedError(name: string, until: Date): RunError {
    return new RunError(`s3 ${this.location(name)} is locked by Object Lock until ${until.toISOString()}; it cannot be removed before then`);
  }
}

/** Stops the GET when the reader destroys the stream early. */
function abortOnDestroy(stream: Readable): AbortSignal {
  const controller = new AbortController();
  stream.once("close", () => controller.abort());
  return controller.signal;
}
