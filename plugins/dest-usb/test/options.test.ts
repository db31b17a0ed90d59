import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError } from "@sov/core";
import { DEFAULT_MOUNT, DEFAULT_SUBDIR, optionsSchema, resolveUsbOptions } from "../src/options.js";

const labelPattern = new RegExp(optionsSchema.properties.label.pattern, "u");

test("defaults: subdir sovereign-backup, mount /mnt/sov-backup, no fs type", () => {
  assert.deepEqual(resolveUsbOptions("usb", { label: "SOVBACKUP" }, {}), {
    label: "SOVBACKUP",
    subdir: DEFAULT_SUBDIR,
    mount: DEFAULT_MOUNT,
    fsType: undefined,
  });
});

test("$SOVEREIGN_BACKUP_USB_MOUNT sets the mount point; the mount option wins over it", () => {
  const env = { SOVEREIGN_BACKUP_USB_MOUNT: "/run/media/stick/" };
  assert.equal(resolveUsbOptions("usb", { label: "L" }, env).mount, "/run/media/stick");
  assert.equal(resolveUsbOptions("usb", { label: "L", mount: "/mnt/x" }, env).mount, "/mnt/x");
  assert.equal(resolveUsbOptions("usb", { label: "L" }, { SOVEREIGN_BACKUP_USB_MOUNT: "" }).mount, DEFAULT_MOUNT);
});

test("subdir is normalized and may have several levels, as in the bash tool's examples", () => {
  assert.equal(resolveUsbOptions("usb", { label: "L", subdir: "sparki/backups/" }, {}).subdir, "sparki/backups");
  assert.equal(resolveUsbOptions("usb", { label: "L", subdir: "./a//b" }, {}).subdir, "a/b");
  assert.equal(resolveUsbOptions("usb", { label: "L", subdir: "." }, {}).subdir, "");
});

test("refuses paths that leave the stick or the mount point, naming the destination", () => {
  const cases: Array<[Parameters<typeof resolveUsbOptions>[1], Record<string, string>, RegExp]> = [
    [{ label: "L", subdir: "/abs" }, {}, /destination usb: subdir \/abs must be relative/],
    [{ label: "L", subdir: "a/../../etc" }, {}, /must not contain '\.\.'/],
    [{ label: "L", subdir: ".." }, {}, /must not contain '\.\.'/],
    [{ label: "L", mount: "relative/dir" }, {}, /mount relative\/dir must be an absolute path/],
    [{ label: "L", mount: "/mnt/../etc" }, {}, /must not contain '\.\.'/],
    [{ label: "L", mount: "/" }, {}, /cannot be \//],
    [{ label: "L" }, { SOVEREIGN_BACKUP_USB_MOUNT: "mnt" }, /\$SOVEREIGN_BACKUP_USB_MOUNT mnt must be an absolute path/],
    [{ label: ".." }, {}, /label '\.\.' is not a filesystem label/],
    [{ label: "a/b" }, {}, /without '\/' or control characters/],
    [{ label: "a\nb" }, {}, /without '\/' or control characters/],
  ];
  for (const [options, env, message] of cases) {
    assert.throws(() => resolveUsbOptions("usb", options, env), (err: Error) => err instanceof ConfigError && message.test(err.message), JSON.stringify(options));
  }
});

test("the schema's label pattern takes real labels and refuses '/' and control characters", () => {
  for (const ok of ["SOVBACKUP", "SOVEREIGN-BACKUP", "my stick", "Sicherung_ä", "a.b"]) assert.ok(labelPattern.test(ok), ok);
  for (const bad of ["a/b", "/", "tab\there", "nl\n", "del\u007f", "c1\u0085", ""]) assert.ok(!labelPattern.test(bad), JSON.stringify(bad));
});
