import assert from "node:assert/strict";
import { test } from "node:test";
import { PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { createS3Client } from "../src/client.js";

/**
 * What the client signs, caught after signing and before anything goes on the wire (no
 * server): a body with a Content-MD5 is signed through that header, so the SDK does not hash
 * every part a second time; a request without one keeps the SDK's payload hash.
 */
async function signedHeaders(command: PutObjectCommand | UploadPartCommand): Promise<Record<string, string>> {
  const client = createS3Client({
    endpoint: "http://127.0.0.1:9",
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" },
  });
  let seen: Record<string, string> | undefined;
  client.middlewareStack.add(
    () => async (args) => {
      seen = { ...(args.request as { headers: Record<string, string> }).headers };
      throw new Error("caught before sending");
    },
    { step: "finalizeRequest", name: "catchSigned", priority: "low" },
  );
  await assert.rejects(client.send(command as PutObjectCommand), /caught before sending/);
  assert.ok(seen, "the request reached the signed stage");
  return seen;
}

test("a part with a Content-MD5 is signed through it (UNSIGNED-PAYLOAD, content-md5 among the signed headers)", async () => {
  const body = Buffer.alloc(1024, 1);
  const headers = await signedHeaders(new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u", PartNumber: 1, Body: body, ContentMD5: "XtGkVh8xKlyO07Bfe+BtZg==" }));
  assert.equal(headers["x-amz-content-sha256"], "UNSIGNED-PAYLOAD");
  assert.match(headers["authorization"] ?? "", /SignedHeaders=[^,]*content-md5/);
});

test("a body without a Content-MD5 keeps the SDK's SHA-256 of the payload", async () => {
  const headers = await signedHeaders(new PutObjectCommand({ Bucket: "b", Key: "k", Body: Buffer.from("x") }));
  assert.match(headers["x-amz-content-sha256"] ?? "", /^[0-9a-f]{64}$/);
});
