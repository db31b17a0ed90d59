import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DeviceNotFoundError, findDeviceByLabel, splitDeviceNumber, udevLabelName } from "../src/device.js";

test("udevLabelName encodes like udev's by-label links", () => {
  assert.equal(udevLabelName("SOVBACKUP"), "SOVBACKUP");
  assert.equal(udevLabelName("MY STICK"), "MY\\x20STICK");
  assert.equal(udevLabelName("a\"b$c"), "a\\x22b\\x24c");
  assert.equal(udevLabelName("Sicherung-ä.1"), "Sicherung-ä.1");
});

test("splitDeviceNumber decodes small and large Linux device numbers", () => {
  assert.deepEqual(splitDeviceNumber(0x811n), { major: 8, minor: 17 });
  assert.deepEqual(splitDeviceNumber(0x700n), { major: 7, minor: 0 });
  // makedev(259, 0x12345): minor's high bits go above the major's low 12 bits
  const dev = (0x12345n & 0xffn) | ((259n & 0xfffn) << 8n) | ((0x12345n & ~0xffn) << 12n);
  assert.deepEqual(splitDeviceNumber(dev), { major: 259, minor: 0x12345 });
});

test("a by-label entry that is not a block device is ignored; a label nobody has is a clear error", async (t) => {
  if (spawnSync("sh", ["-c", "command -v blkid"]).status !== 0) return t.skip("needs blkid (util-linux)");
  const dir = mkdtempSync(join(tmpdir(), "sov-usb-bylabel-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const label = `SOVNONE${process.pid}`;
  writeFileSync(join(dir, "file"), "not a device");
  symlinkSync(join(dir, "file"), join(dir, label));
  await assert.rejects(findDeviceByLabel(label, { byLabelDir: dir }), (err: Error) => {
    assert.ok(err instanceof DeviceNotFoundError, err.message);
    assert.match(err.message, new RegExp(`label '${label}'.*plugged in`));
    return true;
  });
});
