import assert from "node:assert/strict";
import { test } from "node:test";
import { isReadOnly, mountAt, parseMountInfo } from "../src/mountinfo.js";

const SAMPLE = [
  "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw",
  "36 22 8:17 / /mnt/sov-backup rw,nosuid,nodev,noexec,relatime shared:5 master:1 - ext4 /dev/sdb1 rw,errors=remount-ro",
  "37 22 8:17 /sovereign-backup /srv/bind rw,relatime - ext4 /dev/sdb1 rw",
  "38 22 0:45 / /media/my\\040stick ro,relatime - vfat /dev/sdc1 ro,fmask=0022",
  "39 36 0:50 / /mnt/sov-backup rw,relatime - tmpfs tmpfs rw",
  "",
].join("\n");

test("parses mountinfo with optional fields, octal escapes and read-only mounts", () => {
  const entries = parseMountInfo(SAMPLE);
  assert.equal(entries.length, 5);
  const stick = entries[1]!;
  assert.deepEqual(
    { major: stick.major, minor: stick.minor, root: stick.root, mountPoint: stick.mountPoint, fsType: stick.fsType, source: stick.source },
    { major: 8, minor: 17, root: "/", mountPoint: "/mnt/sov-backup", fsType: "ext4", source: "/dev/sdb1" },
  );
  assert.ok(stick.options.includes("noexec"));
  assert.equal(entries[2]!.root, "/sovereign-backup");
  assert.equal(entries[3]!.mountPoint, "/media/my stick");
  assert.ok(isReadOnly(entries[3]!));
  assert.ok(!isReadOnly(stick));
});

test("mountAt gives the mount on top when several are stacked on one directory", () => {
  const entries = parseMountInfo(SAMPLE);
  assert.equal(mountAt(entries, "/mnt/sov-backup")?.fsType, "tmpfs");
  assert.equal(mountAt(entries, "/srv/bind")?.source, "/dev/sdb1");
  assert.equal(mountAt(entries, "/nowhere"), undefined);
});

test("the live /proc/self/mountinfo parses and has a root mount", async (t) => {
  const { readMountInfo } = await import("../src/mountinfo.js");
  const entries = await readMountInfo().catch(() => null);
  if (!entries) return t.skip("no /proc/self/mountinfo here");
  assert.ok(entries.some((e) => e.mountPoint === "/"));
});
