import assert from "node:assert/strict";
import { test } from "node:test";
import { archiveName, parseConfigText, silentLogger, type ArchiveRef } from "@sov/core";
import { judgeRetention, selectExpired } from "../../../core/dist/src/retention.js";

const ref = (name: string): ArchiveRef => ({ destination: "local", name, location: `/b/${name}`, size: 1 });
const at = (y: number, mo: number, d: number, h = 2) => new Date(y, mo - 1, d, h, 0, 0);
const name = (d: Date, seq = 0) => archiveName("h", d, "zst", "age", seq);
const now = at(2026, 11, 27, 12);

test("days: archives older than N days go; the one just written, the newest and other hosts' stay", () => {
  const archives = [
    ref("sovereign-backup-h-20261101-020000.tar.zst.age"),
    ref("sovereign-backup-h-20261120-020000.tar.zst.age"),
    ref("sovereign-backup-h-20261127-020000.tar.zst.age"),
    ref("sovereign-backup-other-20200101-020000.tar.zst.age"),
    ref("notes.txt"),
  ];
  const expired = selectExpired(archives, { days: 14 }, "h", "sovereign-backup-h-20261127-020000.tar.zst.age", now);
  assert.deepEqual(expired.map((e) => e.archive.name), ["sovereign-backup-h-20261101-020000.tar.zst.age"]);
  assert.deepEqual(selectExpired(archives, { days: 0 }, "h", "x", now), [], "no rule keeps everything");
});

test("even when every archive is old, the newest survives", () => {
  const archives = [ref("sovereign-backup-h-20200101-020000.tar.age"), ref("sovereign-backup-h-20200102-020000.tar.age")];
  const expired = selectExpired(archives, { days: 1 }, "h", "not-listed", now);
  assert.deepEqual(expired.map((e) => e.archive.name), ["sovereign-backup-h-20200101-020000.tar.age"]);
});

/** One archive a day at 02:00 for 400 days, plus a second one on the newest day. */
function history(): ArchiveRef[] {
  const out: ArchiveRef[] = [];
  for (let i = 0; i < 400; i++) out.push(ref(name(at(2026, 11, 27 - i))));
  out.push(ref(name(at(2026, 11, 27, 14))));
  return out;
}

const survivors = (policy: Parameters<typeof judgeRetention>[1]) =>
  judgeRetention(history(), policy, "h", null, now)
    .filter((v) => v.keep)
    .map((v) => v.archive.name.slice("sovereign-backup-h-".length, "sovereign-backup-h-".length + 15))
    .sort()
    .reverse();

test("GFS rules keep the newest archive of each period, like restic and borg", () => {
  const table: Array<[string, Parameters<typeof judgeRetention>[1], string[]]> = [
    ["keep_last 3", { days: 0, keep_last: 3 }, ["20261127-140000", "20261127-020000", "20261126-020000"]],
    ["keep_daily 3", { days: 0, keep_daily: 3 }, ["20261127-140000", "20261126-020000", "20261125-020000"]],
    // 2026-11-27 is a Friday: ISO weeks W48 (newest), W47 ends Sun 22 Nov, W46 ends Sun 15 Nov
    ["keep_weekly 3", { days: 0, keep_weekly: 3 }, ["20261127-140000", "20261122-020000", "20261115-020000"]],
    ["keep_monthly 3", { days: 0, keep_monthly: 3 }, ["20261127-140000", "20261031-020000", "20260930-020000"]],
    // the history starts on 2025-10-24, so 2025's newest is 31 Dec and there is nothing older
    ["keep_yearly 5", { days: 0, keep_yearly: 5 }, ["20261127-140000", "20251231-020000"]],
    ["keep_within 2d", { days: 0, keep_within: "2d" }, ["20261127-140000", "20261127-020000", "20261126-020000"]],
    [
      "daily 2 + weekly 2 + monthly 2",
      { days: 0, keep_daily: 2, keep_weekly: 2, keep_monthly: 2 },
      ["20261127-140000", "20261126-020000", "20261122-020000", "20261031-020000"],
    ],
  ];
  for (const [label, policy, expected] of table) assert.deepEqual(survivors(policy), expected, label);
});

test("every survivor says why it survives; removed ones say no rule keeps them", () => {
  const verdicts = judgeRetention([history()[400]!, ...history().slice(0, 4)], { days: 0, keep_daily: 1, keep_last: 2 }, "h", null, now);
  const newest = verdicts.find((v) => v.archive.name.includes("20261127-140000"))!;
  assert.deepEqual(newest.reasons, ["the newest archive", "one of the last 2", "daily 2026-11-27"]);
  assert.deepEqual(verdicts.find((v) => v.archive.name.includes("20261124"))!.reasons, ["no rule keeps it"]);
});

test("retention keys exist in both config formats", () => {
  const v01 = parseConfigText("/x.yaml", "sources: [/etc]\nage_recipient: /r\nretention:\n  local_days: 0\n  local_keep_daily: 7\n  local_keep_within: 36h\n", silentLogger());
  assert.deepEqual(v01.destinations[0]!.retention, { days: 0, keep_daily: 7, keep_within: "36h" });
  const v2 = parseConfigText("/x.yaml", "version: 2\nsource: {paths: [/etc]}\nencrypt: {recipients_file: /r}\ndestinations:\n  - {plugin: local, path: /b, retention: {keep_weekly: 4, keep_monthly: 12}}\n", silentLogger());
  assert.deepEqual(v2.destinations[0]!.retention, { keep_weekly: 4, keep_monthly: 12, days: 0 });
  assert.throws(() => parseConfigText("/x.yaml", "version: 2\nsource: {paths: [/etc]}\nencrypt: {recipients_file: /r}\ndestinations:\n  - {plugin: local, path: /b, retention: {keep_within: soon}}\n", silentLogger()), /keep_within/);
});
