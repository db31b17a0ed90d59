import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createRecordingLogger } from "@sov/core/testing";
import type { ArchiveMeta, ArchiveRef, StagedWrite } from "@sov/core";
import { explainStickError, StickStagedWrite } from "../src/stick-write.js";

const NAME = "sovereign-backup-h-20260101-000000.tar.zst.age";

function fakeStaged() {
  const calls: string[] = [];
  const inner: StagedWrite = {
    writable: new PassThrough(),
    commit: async (meta?: ArchiveMeta): Promise<ArchiveRef> => {
      calls.push(`commit ${meta?.sha256 ?? "-"}`);
      return { destination: "usb", name: NAME, location: `/mnt/x/${NAME}`, size: 1 };
    },
    abort: async () => void calls.push("abort"),
  };
  return { inner, calls };
}

test("errors that mean something for a stick say so, once", () => {
  const full = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
  explainStickError(explainStickError(full));
  assert.equal(full.message, "ENOSPC: no space left on device, write (the stick is full: free space on it or lower its retention days)");
  const other = Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
  assert.equal(explainStickError(other).message, "EACCES: permission denied");
  assert.equal(explainStickError("not an error"), "not an error");
});

test("the writable's error reaches listeners already explained", () => {
  const { inner } = fakeStaged();
  new StickStagedWrite(inner, { archiveName: NAME, log: createRecordingLogger(), directory: undefined, goneReason: async () => undefined });
  let seen = "";
  inner.writable.on("error", (err) => (seen = err.message));
  inner.writable.destroy(Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" }));
  return new Promise<void>((resolve) =>
    setImmediate(() => {
      assert.match(seen, /EIO: i\/o error, write \(I\/O error: was the stick pulled out\?\)/);
      resolve();
    }),
  );
});

test("commit passes the checksum on while the stick is mounted", async () => {
  const { inner, calls } = fakeStaged();
  const staged = new StickStagedWrite(inner, { archiveName: NAME, log: createRecordingLogger(), directory: undefined, goneReason: async () => undefined });
  const ref = await staged.commit({ sha256: "ab".repeat(32) });
  assert.equal(ref.name, NAME);
  assert.deepEqual(calls, [`commit ${"ab".repeat(32)}`]);
});

test("once the stick has left its mount point, commit aborts instead of linking on the host's disk", async () => {
  const { inner, calls } = fakeStaged();
  const staged = new StickStagedWrite(inner, {
    archiveName: NAME,
    log: createRecordingLogger(),
    directory: undefined,
    goneReason: async () => "the stick labelled X is no longer mounted at /mnt/x",
  });
  await assert.rejects(staged.commit(), /no longer mounted at \/mnt\/x; nothing was committed on it/);
  assert.deepEqual(calls, ["abort"]);
});
