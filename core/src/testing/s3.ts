import type { TestContext } from "node:test";

/** An S3 server for tests, as `eval "$(bash ceph-s3.sh start DIR)"` exports it. */
export interface S3TestServer {
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
}

/**
 * The S3 server named by S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY (and S3_REGION). Without
 * them the test fails in CI (its CI script must start one) and is skipped elsewhere, like
 * `needTools`.
 */
export function needS3(t: TestContext): S3TestServer | null {
  const { S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION } = process.env;
  if (S3_ENDPOINT && S3_ACCESS_KEY && S3_SECRET_KEY) {
    return { endpoint: S3_ENDPOINT, accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY, region: S3_REGION || "us-east-1" };
  }
  const reason = 'needs an S3 server: eval "$(bash ../shared/services/ceph-s3.sh start DIR)" exports S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY';
  if (process.env.CI === "true") throw new Error(`CI ${reason}`);
  t.skip(reason);
  return null;
}
