import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createRecordingLogger } from "@sov/core/testing";
import type { ObjectWrite } from "@sov/core";
import { explainStickError, stickObjectWrite } from "../src/stick-write.js";

const TEMP = "sovereign-backup-h-20260101-000000.tar.zst.age.m.1-ab.tmp";

function fakeWrite() {
  const calls: string[] = [];
  const writable = Object.assign(new PassThrough(), { bytesWritten: 0 });
  const inner: ObjectWrite = { writable, discard: async () => void calls.push("discard") };
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
  const { inner } = fakeWrite();
  stickObjectWrite(inner, TEMP, { log: createRecordingLogger(), directory: undefined, goneReason: async () => undefined });
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

test("discard removes the temporary through the store, and is quiet while the stick is mounted", async () => {
  const { inner, calls } = fakeWrite();
  const log = createRecordingLogger();
  const write = stickObjectWrite(inner, TEMP, { log, directory: undefined, goneReason: async () => undefined });
  await write.discard();
  assert.deepEqual(calls, ["discard"]);
  assert.deepEqual(log.lines, []);
});
