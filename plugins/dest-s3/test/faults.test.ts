import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout } from "node:timers/promises";
import { describe, test } from "node:test";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { ConfigError, ExitCode, RunError } from "@sov/core";
import { needRoot, startTcpRelay } from "@sov/core/testing";
import { freshBucket, needS3, rawClient, scratch, storeFor } from "./ceph.js";

const ARCHIVE = "sovereign-backup-web1-20261201-083000.tar.zst.age";

function runError(pattern: RegExp, secret?: string) {
  return (err: unknown) => {
    assert.ok(err instanceof RunError, `expected a RunError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.failed);
    assert.match(err.message, pattern);
    if (secret) assert.ok(!err.message.includes(secret) && !String(err.stack).includes(secret), "the secret key is never printed");
    return true;
  };
}

describe("dest-s3 faults on a real Ceph RGW", () => {
  test("the endpoint goes down mid-upload: the write fails, nothing is visible, the next run aborts the upload", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const relay = await startTcpRelay(server.endpoint);
    t.after(() => relay.stop());
    const store = await storeFor(server, bucket, { endpoint: relay.endpoint });
    const upload = await store.beginUpload(ARCHIVE);
    await new Promise<void>((resolve, reject) => upload.writable.write(randomBytes(6 * 1024 * 1024), (err) => (err ? reject(err) : resolve())));
    while (upload.writable.bytesWritten < 5 * 1024 * 1024) await setTimeout(20); // the first part is stored
    await relay.stop();
    await assert.rejects(
      pipeline(Readable.from([randomBytes(5 * 1024 * 1024)]), upload.writable),
      runError(new RegExp(`^s3 bucket ${bucket} at ${relay.endpoint}: upload part 2 of web1/${ARCHIVE.replaceAll(".", "\\.")} failed \\(ECONNREFUSED\\): the endpoint cannot be reached`)),
    );
    await assert.rejects(upload.discard(), runError(new RegExp(`^s3 bucket ${bucket} at ${relay.endpoint}: abort the upload of web1/${ARCHIVE.replaceAll(".", "\\.")} failed \\(ECONNREFUSED\\): the endpoint cannot be reached`)));
    const keys = await raw.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(keys.KeyCount, 0, "nothing visible under any name");
    const nextRun = await storeFor(server, bucket);
    const left = await nextRun.listIncompleteUploads();
    assert.equal(left.length, 1);
    await left[0]!.abort();
    assert.deepEqual(await nextRun.listIncompleteUploads(), []);
  });

  test("wrong credentials: open() names the bucket and endpoint, says to check the keys, never prints the secret", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const bucket = await freshBucket(rawClient(server));
    const secret = `wrong-${randomBytes(12).toString("hex")}`;
    const store = await storeFor(server, bucket, {}, undefined, { env: { AWS_ACCESS_KEY_ID: server.accessKey, AWS_SECRET_ACCESS_KEY: secret } });
    await assert.rejects(store.open(), runError(new RegExp(`^s3 bucket ${bucket} at ${server.endpoint}: check the bucket failed \\(SignatureDoesNotMatch, HTTP 403\\): the endpoint refused the credentials`), secret));
    const unknownKey = await storeFor(server, bucket, {}, undefined, { env: { AWS_ACCESS_KEY_ID: "NOSUCHKEY", AWS_SECRET_ACCESS_KEY: secret } });
    await assert.rejects(unknownKey.open(), runError(/\(InvalidAccessKeyId, HTTP 403\): the endpoint refused the credentials/, secret));
  });

  test("a missing bucket: open() says to create it", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const store = await storeFor(server, "sov-test-no-such-bucket");
    await assert.rejects(store.open(), runError(/^s3 bucket sov-test-no-such-bucket at .*: check the bucket failed \(NoSuchBucket, HTTP 404\): the bucket does not exist: create it/));
  });

  test("the credentials file: read from the profile asked for, refused at mode 0644 before it is read", async (t) => {
    const server = needS3(t);
    if (!server || !needRoot(t)) return;
    const bucket = await freshBucket(rawClient(server));
    const dir = scratch(t);
    const file = join(dir, "s3-credentials");
    writeFileSync(file, `[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[backup]\naws_access_key_id = ${server.accessKey}\naws_secret_access_key = ${server.secretKey}\n`, { mode: 0o600 });
    const noEnv = { env: {} };
    const good = await storeFor(server, bucket, { credentials_file: file, profile: "backup" }, undefined, noEnv);
    await good.open();
    await good.close();
    await assert.rejects(storeFor(server, bucket, { credentials_file: file, profile: "other" }, undefined, noEnv), {
      message: `credentials_file ${file} has no [other] section; add one or set profile`,
    });

    writeFileSync(join(dir, "readable"), "not even parsed\n", { mode: 0o644 });
    await assert.rejects(storeFor(server, bucket, { credentials_file: join(dir, "readable") }, undefined, noEnv), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.exitCode, ExitCode.usage);
      assert.equal(err.message, `credentials_file: ${join(dir, "readable")} is readable by group or others (mode 644); chmod 0600 it`);
      return true;
    });
    await assert.rejects(storeFor(server, bucket, {}, undefined, noEnv), { message: /^no S3 credentials: set credentials_file/ });
  });
});
