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
  const client = new S3Client({
    region: settings.region,
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
  // A body that carries a Content-MD5 is signed through it: the header is part of the SigV4
  // signature and the store refuses a body that does not match it, so the SDK's own SHA-256 of
  // every part (a third pass over the archive, beside the sidecar's SHA-256 and the MD5) is
  // skipped. The archive inside is age-encrypted and authenticated as well.
  client.middlewareStack.add(
    (next) => async (args) => {
      const headers = (args.request as { headers?: Record<string, string> }).headers;
      if (headers && Object.keys(headers).some((h) => h.toLowerCase() === "content-md5")) headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      return next(args);
    },
    { step: "build", name: "sovMd5SignsThePayload" },
  );
  return client;
}
