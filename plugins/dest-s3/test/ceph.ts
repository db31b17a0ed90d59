import { randomBytes } from "node:crypto";
import type { TestContext } from "node:test";
import { CreateBucketCommand, PutBucketVersioningCommand, S3Client } from "@aws-sdk/client-s3";
import { silentLogger, type PluginContext } from "@sov/core";
import { trustedScratch, type S3TestServer } from "@sov/core/testing";
import { createS3Store, type S3Options, type S3Store, type S3StoreInternals } from "../src/index.js";

export { needS3 } from "@sov/core/testing";
export type S3Server = S3TestServer;

/** A client of our own, beside the store, to look at the bucket the way an operator would. */
export function rawClient(server: S3Server, endpoint = server.endpoint): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: server.region,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
}

/** A bucket only this test uses. Object Lock buckets are versioned, and their objects outlive the test. */
export async function freshBucket(client: S3Client, opts: { objectLock?: boolean; versioned?: boolean } = {}): Promise<string> {
  const bucket = `sov-test-${randomBytes(6).toString("hex")}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ...(opts.objectLock ? { ObjectLockEnabledForBucket: true } : {}) }));
  if (opts.versioned) await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: "Enabled" } }));
  return bucket;
}

export function contextFor(server: S3Server, extra: Partial<PluginContext> = {}): PluginContext {
  return {
    instance: "offsite",
    host: "web1",
    configDir: "/",
    log: silentLogger(),
    env: { AWS_ACCESS_KEY_ID: server.accessKey, AWS_SECRET_ACCESS_KEY: server.secretKey },
    ...extra,
  };
}

/** Ceph's smallest part is 5 MiB; two buffers keep the tests' memory low. */
export const SMALL_PARTS = { partSize: 5 * 1024 * 1024, queueSize: 2 };

export async function storeFor(
  server: S3Server,
  bucket: string,
  options: Partial<S3Options> = {},
  internals: S3StoreInternals = { limits: SMALL_PARTS },
  ctx: Partial<PluginContext> = {},
): Promise<S3Store> {
  return createS3Store(
    { endpoint: server.endpoint, region: server.region, bucket, force_path_style: true, ...options },
    contextFor(server, ctx),
    internals,
  );
}

/** As root, a directory only root can write: the credentials file check demands it. */
export function scratch(t: TestContext): string {
  return trustedScratch(t, "sov-dest-s3");
}
