import assert from "node:assert/strict";
import { test } from "node:test";
import type { ArchiveRef } from "@sov/core";
import { selectExpired } from "../../../core/dist/src/retention.js";

const ref = (name: string): ArchiveRef => ({ destination: "local", name, location: `/b/${name}`, size: 1 });
const now = new Date(2026, 10, 27, 12, 0, 0);

test("archives older than N days go; the one just written, the newest and other hosts' stay", () => {
  const archives = [
    ref("sovereign-backup-h-20261101-020000.tar.zst.age"),
    ref("sovereign-backup-h-20261120-020000.tar.zst.age"),
    ref("sovereign-backup-h-20261127-020000.tar.zst.age"),
    ref("sovereign-backup-other-20200101-020000.tar.zst.age"),
    ref("notes.txt"),
  ];
  const expired = selectExpired(archives, { days: 14 }, "h", "sovereign-backup-h-20261127-020000.tar.zst.age", now);
  assert.deepEqual(expired.map((e) => e.archive.name), ["sovereign-backup-h-20261101-020000.tar.zst.age"]);
  assert.deepEqual(selectExpired(archives, { days: 0 }, "h", "x", now), [], "0 days keeps everything");
});

test("even when every archive is old, the newest survives", () => {
  const archives = [ref("sovereign-backup-h-20200101-020000.tar.age"), ref("sovereign-backup-h-20200102-020000.tar.age")];
  const expired = selectExpired(archives, { days: 1 }, "h", "not-listed", now);
  assert.deepEqual(expired.map((e) => e.archive.name), ["sovereign-backup-h-20200101-020000.tar.age"]);
});
