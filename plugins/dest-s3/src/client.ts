import { S3Client } from "@aws-sdk/client-s3";
import type { S3Credentials } from "./credentials.js";

export interface ClientSettings {
  readonly endpoint?: string;
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly credentials: S3Credentials;
}

/**
 * An SDK client with exactly the keys given: no default credential chain. Checksums only when
 * an operation requires them, since older S3 servers (Ceph 16) reject aws-chunked bodies with
 * trailing checksums; every part carries a Content-MD5 instead.
 */
export function createS3Client(settings: ClientSettings): S3Client {
  // sov supports Node 20; the SDK's warning concerns SDK releases our lockfile does not use,
  // and would otherwise land in every run's journal.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}
