import assert from "node:assert/strict";
import { test } from "node:test";
import { archiveName, compareArchiveNames, parseArchiveName } from "@sov/core";

test("archive names are the bash tool's and parse back", () => {
  const d = new Date(2026, 10, 27, 2, 3, 4);
  assert.equal(archiveName("sparki", d, "zst", "age"), "sovereign-backup-sparki-20261127-020304.tar.zst.age");
  assert.equal(archiveName("my-host", d, null, "age"), "sovereign-backup-my-host-20261127-020304.tar.age");
  assert.equal(archiveName("h", d, "lz4", "age", 2), "sovereign-backup-h-20261127-020304-2.tar.lz4.age");
  const p = parseArchiveName("sovereign-backup-my-host-20261127-020304-2.tar.gz.age");
  assert.deepEqual(p && { ...p, timestamp: p.timestamp.getTime() }, {
    host: "my-host", timestamp: d.getTime(), stamp: "20261127-020304-2", sequence: 2, compression: "gz", encryption: "age",
  });
  for (const bad of ["sovereign-backup-h-20261127-020304.tar.zst.age.123.tmp", "x.tar.age", "sovereign-backup-h-2026-02.tar.age"]) {
    assert.equal(parseArchiveName(bad), null, bad);
  }
});

test("archives sort by the timestamp in the name, then the sequence", () => {
  const names = [
    "sovereign-backup-h-20261127-020304-1.tar.zst.age",
    "sovereign-backup-h-20250101-000000.tar.age",
    "sovereign-backup-h-20261127-020304.tar.zst.age",
  ];
  assert.deepEqual([...names].sort(compareArchiveNames), [names[1], names[2], names[0]]);
});
