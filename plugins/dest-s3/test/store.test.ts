import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { NameTakenError } from "@sov/core";
import { freshBucket, needS3, rawClient, storeFor } from "./ceph.js";
import { readAll, writeAll } from "./streams.js";

const ARCHIVE = "sovereign-backup-web1-20261201-083000.tar.zst.age";

describe("dest-s3 store on a real Ceph RGW", () => {
  test("a multipart upload is invisible until complete(), then reads back whole and by ranges", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const store = await storeFor(server, bucket);
    await store.open();
    t.after(() => store.close());
    const data = randomBytes(12 * 1024 * 1024 + 12345); // three parts of 5 MiB, the last one short

    const upload = await store.beginUpload(ARCHIVE);
    await writeAll(upload, data);
    assert.equal(upload.writable.bytesWritten, data.length, "every part acknowledged by the server");
    assert.deepEqual(await store.list(), [], "nothing listed before complete()");
    assert.equal(await store.stat(ARCHIVE), null);
    const keys = await raw.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(keys.KeyCount, 0, "no key in the whole bucket before complete()");

    await upload.complete();
    assert.deepEqual(await store.list(), [{ name: ARCHIVE, size: data.length, location: `s3://${bucket}/web1/${ARCHIVE}` }]);
    assert.equal((await store.stat(ARCHIVE))?.size, data.length);
    assert.ok((await readAll(store.read(ARCHIVE))).equals(data), "whole object byte-identical");
    for (const [start, end] of [[0, 1], [5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10], [data.length - 100, data.length], [7, 7]] as const) {
      assert.ok((await readAll(store.read(ARCHIVE, { start, end }))).equals(data.subarray(start, end)), `range [${start}, ${end})`);
    }
    const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.equal(uploads.Uploads?.length ?? 0, 0, "no upload left behind");
  });

  test("discard() aborts the upload: nothing listed, no incomplete upload left", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const store = await storeFor(server, bucket);
    const upload = await store.beginUpload(ARCHIVE);
    await writeAll(upload, randomBytes(11 * 1024 * 1024));
    assert.equal((await store.listIncompleteUploads()).length, 1, "the begun upload is listed as incomplete");
    await upload.discard();
    assert.deepEqual(await store.list(), []);
    assert.deepEqual(await store.listIncompleteUploads(), []);
    const keys = await raw.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(keys.KeyCount, 0);
  });

  test("a small object (the sidecar) is one PUT that never replaces: NameTakenError, original kept", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const store = await storeFor(server, bucket);
    const sidecar = `${ARCHIVE}.sha256`;
    const first = await store.beginUpload(sidecar);
    await writeAll(first, Buffer.from(`${"a".repeat(64)}  ${ARCHIVE}\n`));
    assert.deepEqual(await store.list(), [], "held until complete()");
    await first.complete();

    const second = await store.beginUpload(sidecar);
    await writeAll(second, Buffer.from("replaced\n"));
    await assert.rejects(second.complete(), (err: unknown) => err instanceof NameTakenError && err.objectName === sidecar);
    await second.discard();
    assert.equal((await readAll(store.read(sidecar))).toString(), `${"a".repeat(64)}  ${ARCHIVE}\n`);

    // A multipart upload to a taken name is refused the same way.
    const big = await store.beginUpload(sidecar);
    await writeAll(big, randomBytes(6 * 1024 * 1024));
    await assert.rejects(big.complete(), NameTakenError);
    await big.discard();
    assert.equal((await store.stat(sidecar))?.size, 64 + 2 + ARCHIVE.length + 1);
    assert.deepEqual(await store.listIncompleteUploads(), []);
  });

  test("list() pages through ListObjectsV2, names relative to the prefix, other prefixes left out", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const names = Array.from({ length: 11 }, (_, i) => `object-${String(i).padStart(2, "0")}`);
    await Promise.all(names.map((name) => raw.send(new PutObjectCommand({ Bucket: bucket, Key: `fleet/web1/${name}`, Body: name }))));
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: "fleet/web2/other-host", Body: "x" }));
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: "fleet/web1/sub/nested", Body: "x" }));
    const store = await storeFor(server, bucket, { prefix: "fleet/web1" }, { pageSize: 3 });
    const listed = await store.list();
    assert.deepEqual(listed.map((o) => o.name).sort(), names);
    assert.equal(listed[0]!.location, `s3://${bucket}/fleet/web1/${listed[0]!.name}`);
    assert.deepEqual(listed.map((o) => o.size), listed.map((o) => o.name.length));
  });

  test("uploads a killed run left behind are listed with their start and can be aborted", async (t) => {
    const server = needS3(t);
    if (!server) return;
    const raw = rawClient(server);
    const bucket = await freshBucket(raw);
    const killedRun = await storeFor(server, bucket);
    const before = new Date(Date.now() - 60_000);
    const abandoned = await killedRun.beginUpload(ARCHIVE);
    await writeAll(abandoned, randomBytes(6 * 1024 * 1024));
    killedRun.close(); // the process died: no complete(), no discard()

    const nextRun = await storeFor(server, bucket);
    const incomplete = await nextRun.listIncompleteUploads();
    assert.deepEqual(incomplete.map((u) => u.name), [ARCHIVE]);
    assert.ok(incomplete[0]!.startedAt > before && incomplete[0]!.startedAt <= new Date(Date.now() + 60_000), "startedAt is when it began");
    await incomplete[0]!.abort();
    assert.deepEqual(await nextRun.listIncompleteUploads(), []);
    assert.deepEqual(await nextRun.list(), []);
  });
});
