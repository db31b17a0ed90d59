import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { destinationConformance, destinationFromPlugin } from "@sov/core/testing";
import plugin from "../src/index.js";

/**
 * The core's destination conformance suite, run against a real ext4 stick on a loop device:
 * every check opens the destination (which mounts the stick) and closes it (which unmounts it).
 * Needs root and a loop device; in CI their absence is a failure, elsewhere a visible skip.
 */
const missing = prerequisites();
if (missing) {
  if (process.env.CI === "true") throw new Error(`CI must run the dest-usb conformance suite: ${missing}`);
  test("destination conformance: @sov/dest-usb on a loop device", (t) => t.skip(missing));
} else {
  const dir = mkdtempSync("/run/sov-usb-conformance-");
  const label = `SOVC${randomBytes(5).toString("hex").toUpperCase()}`;
  const image = join(dir, "stick.img");
  const mountPoint = join(dir, "mnt");
  execFileSync("truncate", ["-s", "64M", image]);
  execFileSync("mkfs.ext4", ["-q", "-F", "-L", label, image], { stdio: ["ignore", "ignore", "pipe"] });
  const device = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
  after(() => {
    if (isMounted(mountPoint)) spawnSync("umount", [mountPoint]);
    spawnSync("losetup", ["-d", device]);
    rmSync(dir, { recursive: true, force: true });
  });

  const subdir = (index: number) => `check-${index}`;
  // The raw side door is used only while a check holds the destination open, i.e. mounted.
  const inStick = (index: number, name = "") => join(mountPoint, subdir(index), name);
  destinationConformance(
    "@sov/dest-usb on a loop device",
    ({ index }) => destinationFromPlugin(plugin, { label, subdir: subdir(index), mount: mountPoint }, { instance: "usb" }),
    {
      raw: ({ index }) => ({
        names: async () => readdirSync(inStick(index)),
        put: async (name, data) => {
          mkdirSync(inStick(index), { recursive: true });
          writeFileSync(inStick(index, name), data);
        },
      }),
    },
  );

  test("after the suite the stick is not left mounted", () => {
    if (isMounted(mountPoint)) throw new Error(`${mountPoint} is still mounted`);
  });
}

function prerequisites(): string | null {
  if (process.getuid?.() !== 0) return "needs root (mount, losetup)";
  for (const tool of ["losetup", "mkfs.ext4", "blkid", "mount", "umount", "truncate"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `needs ${tool} (not installed)`;
  }
  const probe = spawnSync("losetup", ["--find"], { encoding: "utf8" });
  if (probe.status !== 0) return `no loop device available (losetup --find: ${(probe.stderr ?? "").trim()})`;
  return null;
}

function isMounted(path: string): boolean {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((line) => line.split(" ")[4] === path);
}
