import { RunError } from "@sov/core";

/** Where a request went, for error messages: never the keys. */
export interface S3Target {
  readonly bucket: string;
  readonly endpoint: string;
}

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

export function httpStatus(err: unknown): number | undefined {
  return (err as SdkError | null)?.$metadata?.httpStatusCode;
}

export function errorCode(err: unknown): string {
  const e = err as SdkError | null;
  return e?.code ?? e?.name ?? "Error";
}

/**
 * Turns an SDK error into one line that names the bucket and endpoint and says what to do.
 * SDK messages carry the key id at most, never the secret; we quote only the error code.
 */
export function explainS3Error(err: unknown, target: S3Target, action: string): RunError {
  const code = errorCode(err);
  const status = httpStatus(err);
  const where = `bucket ${target.bucket} at ${target.endpoint}`;
  let advice: string;
  if (code === "InvalidAccessKeyId" || code === "SignatureDoesNotMatch" || code === "InvalidToken" || code === "ExpiredToken") {
    advice = "the endpoint refused the credentials: check the keys in credentials_file (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and the profile";
  } else if (code === "NoSuchBucket" || (status === 404 && action === "check the bucket")) {
    advice = "the bucket does not exist: create it (with Object Lock enabled if you set object_lock) or fix bucket";
  } else if (code === "AccessDenied" || status === 403) {
    advice = "access denied: the keys need s3:PutObject, s3:GetObject, s3:ListBucket (and s3:DeleteObject to prune) on this bucket";
  } else if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "TimeoutError"].includes(code)) {
    advice = "the endpoint cannot be reached: check that it is up and that endpoint and region are right";
  } else {
    advice = (err as SdkError | null)?.message ?? "unexpected error";
  }
  return new RunError(`s3 ${where}: ${action} failed (${code}${status ? `, HTTP ${status}` : ""}): ${advice}`, { cause: err });
}
