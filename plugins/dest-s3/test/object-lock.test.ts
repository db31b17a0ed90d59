import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { DeleteObjectCommand, ListObjectVersionsCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { RunError } from "@sov/core";
import { freshBucket, needS3, rawClient, storeFor } from "./ceph.js";
import { readAll, writeAll } from "./streams.js";

const ARCHIVE = "sovereign-backup-web1-20261201-083000.tar.zst.age";
const DAY = 86_400_000;

describe("dest-s3 with Object Lock and versioning on a real Ceph RGW", () => {
  test("every object written is locked: list and stat report it, deletes by the host's own keys are refused", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw, { objectLock: true });
    const store = await storeFor(server, bucket, { object_lock: { mode: "compliance", days: 1 } });
    assert.equal(store.features.objectLock, true);
    await store.open();
    t.after(() => store.close());
    const data = randomBytes(7 * 1024 * 1024);
    const before = Date.now();
    const archive = await store.beginUpload(ARCHIVE);
    await writeAll(archive, data);
    await archive.complete();
    const sidecar = await store.beginUpload(`${ARCHIVE}.sha256`);
    await writeAll(sidecar, Buffer.from("checksum\n"));
    await sidecar.complete();

    const listed = await store.list();
    assert.deepEqual(listed.map((o) => o.name).sort(), [ARCHIVE, `${ARCHIVE}.sha256`]);
    for (const object of listed) {
      const until = object.lockedUntil?.getTime() ?? 0;
      assert.ok(until >= before + DAY - 5_000 && until <= Date.now() + DAY + 5_000, `${object.name} locked for a day, got ${object.lockedUntil?.toISOString()}`);
    }
    assert.equal((await store.stat(ARCHIVE))?.lockedUntil?.getTime(), listed.find((o) => o.name === ARCHIVE)?.lockedUntil?.getTime());

    // What ransomware on the host could try with the host's own keys: delete the data itself.
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    for (const version of versions.Versions ?? []) {
      await assert.rejects(
        raw.send(new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId })),
        (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode === 403,
        `deleting ${version.Key} is refused with 403`,
      );
    }
    await assert.rejects(store.remove(ARCHIVE), (err: unknown) => {
      assert.ok(err instanceof RunError);
      assert.match(err.message, new RegExp(`^s3 s3://${bucket}/web1/${ARCHIVE.replaceAll(".", "\\.")} is locked by Object Lock until \\d{4}-\\d\\d-\\d\\dT.*; it cannot be removed before then$`));
      return true;
    });
    assert.ok((await readAll(store.read(ARCHIVE))).equals(data), "the archive is still there, readable");
    const after = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.equal(after.DeleteMarkers?.length ?? 0, 0, "remove() added no delete marker that would hide it");
  });

  test("object_lock on a bucket without Object Lock fails at open() and says what to do", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const bucket = await freshBucket(rawClient(server));
    const store = await storeFor(server, bucket, { object_lock: { mode: "governance", days: 3 } });
    await assert.rejects(store.open(), { message: new RegExp(`^s3 bucket ${bucket} at ${server.endpoint} has no Object Lock, but object_lock is set: create the bucket with Object Lock enabled, or remove object_lock$`) });
  });

  test("versioned bucket: remove() leaves a delete marker, the old version keeps its space", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw, { versioned: true });
    const store = await storeFor(server, bucket);
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: `web1/${ARCHIVE}`, Body: "old archive" }));
    assert.equal((await store.list()).length, 1);
    await store.remove(ARCHIVE);
    await store.remove(ARCHIVE); // a missing object is not an error
    assert.deepEqual(await store.list(), [], "gone from listings and restore");
    const versions = await raw.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.equal(versions.Versions?.length, 1, "the data is still stored (a lifecycle rule must expire noncurrent versions)");
    assert.ok((versions.DeleteMarkers?.length ?? 0) >= 1);
  });
});
