import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { describe, test, type TestContext } from "node:test";
import { NameTakenError } from "@sov/core";
import { createRcloneStore, type RcloneStore } from "../src/index.js";
import { contextFor, needTools, scratch, serveSftp, writeAll, writeConfig } from "./helpers.js";

const ARCHIVE = "sovereign-backup-web1-20261201-083000.tar.zst.age";
const TEMPORARY = `${ARCHIVE}.4242.tmp`;

/** A store over a fresh remote, and the local directory where that remote's files land. */
type Backend = (t: TestContext) => Promise<{ store: RcloneStore; files: string; remote: string }>;

const backends: Record<string, Backend> = {
  "the local backend": async (t) => {
    const dir = scratch(t);
    const config = writeConfig(dir, "disk", { type: "local" });
    const files = join(dir, "archives");
    const remote = `disk:${files}`;
    return { store: await createRcloneStore({ remote, config_file: config, binary: "/usr/bin/rclone" }, contextFor()), files, remote };
  },
  "an SFTP server (rclone serve sftp on 127.0.0.1)": async (t) => {
    const dir = scratch(t);
    const served = join(dir, "served");
    mkdirSync(served);
    const config = writeConfig(dir, "box", await serveSftp(t, dir, served));
    return { store: await createRcloneStore({ remote: "box:web1", config_file: config }, contextFor()), files: join(served, "web1"), remote: "box:web1" };
  },
};

for (const [label, backend] of Object.entries(backends)) {
  describe(`dest-rclone store on ${label}`, () => {
    test("a temporary is written, published under the final name, and read back whole and by ranges", async (t) => {
      if (!needTools(t, "rclone")) return;
      const { store, files, remote } = await backend(t);
      await store.open();
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const write = await store.writeTemporary!(TEMPORARY);
      await writeAll(write, data);
      assert.equal(write.writable.bytesWritten, data.length, "the remote holds every byte");
      assert.deepEqual(readdirSync(files), [TEMPORARY]);

      await store.publish!(TEMPORARY, ARCHIVE);
      assert.deepEqual(readdirSync(files), [ARCHIVE], "published, temporary gone");
      assert.deepEqual(await store.list(), [{ name: ARCHIVE, size: data.length, location: `${remote}/${ARCHIVE}` }]);
      assert.equal((await store.stat(ARCHIVE))?.size, data.length);
      assert.equal(await store.stat(TEMPORARY), null);
      assert.ok(readFileSync(join(files, ARCHIVE)).equals(data), "byte-identical on the remote");
      assert.ok((await buffer(store.read(ARCHIVE))).equals(data));
      for (const [start, end] of [[0, 1], [1_000_000, 2_000_003], [data.length - 5, data.length], [9, 9]] as const) {
        assert.ok((await buffer(store.read(ARCHIVE, { start, end }))).equals(data.subarray(start, end)), `range [${start}, ${end})`);
      }
      await store.remove(ARCHIVE);
      await store.remove(ARCHIVE); // a missing object is not an error
      assert.deepEqual(await store.list(), []);
    });

    test("publish never replaces: NameTakenError, the archive there keeps its bytes", async (t) => {
      if (!needTools(t, "rclone")) return;
      const { store, files } = await backend(t);
      await store.open();
      const first = await store.writeTemporary!(TEMPORARY);
      await writeAll(first, Buffer.from("the first archive"));
      await store.publish!(TEMPORARY, ARCHIVE);

      const second = await store.writeTemporary!(TEMPORARY);
      await writeAll(second, Buffer.from("a second one under the same name"));
      await assert.rejects(store.publish!(TEMPORARY, ARCHIVE), (err: unknown) => err instanceof NameTakenError && err.objectName === ARCHIVE);
      assert.equal(readFileSync(join(files, ARCHIVE), "utf8"), "the first archive");
      await assert.rejects(store.writeTemporary!(TEMPORARY), NameTakenError, "a temporary name in use is refused too");

      // Published under a fresh name instead, as the core's staging does.
      await store.publish!(TEMPORARY, ARCHIVE.replace(".tar", "-1.tar"));
      assert.deepEqual((await store.list()).map((o) => o.name).sort(), [ARCHIVE.replace(".tar", "-1.tar"), ARCHIVE]);
    });

    test("discard() stops the upload and leaves nothing behind", async (t) => {
      if (!needTools(t, "rclone")) return;
      const { store } = await backend(t);
      await store.open();
      const write = await store.writeTemporary!(TEMPORARY);
      await new Promise<void>((resolve, reject) => write.writable.write(randomBytes(1024 * 1024), (err) => (err ? reject(err) : resolve())));
      await write.discard();
      assert.deepEqual(await store.list(), []);
    });
  });
}

describe("dest-rclone errors", () => {
  test("a remote rclone cannot reach fails with rclone's own error line, and list() of a missing folder is empty", async (t) => {
    if (!needTools(t, "rclone")) return;
    const dir = scratch(t);
    const config = writeConfig(dir, "box", { type: "webdav", url: "http://127.0.0.1:1/", vendor: "other" });
    const store = await createRcloneStore({ remote: "box:web1", config_file: config }, contextFor());
    await assert.rejects(store.open(), { message: /^rclone: create box:web1 failed \(exit \d+\): .*connection refused/ });
    const local = await createRcloneStore({ remote: `:local:${join(dir, "never-made")}` }, contextFor());
    assert.deepEqual(await local.list(), []);
  });
});
