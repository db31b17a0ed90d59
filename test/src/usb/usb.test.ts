import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import { needTools, sh, sovSpawn } from "../helpers.js";
import { makeFixture, type Fixture } from "../run/fixture.js";
import { stickLab, uniqueLabel, type Stick, type StickLab } from "./stick.js";

const ARCHIVE_RE = /^sovereign-backup-testhost-\d{8}-\d{6}(-\d+)?\.tar\.zst\.age$/;
const SUBDIR = "sovereign-backup";

interface V01Options {
  label: string;
  subdir?: string;
  usbDays?: number;
  extra?: string;
}

/** A v0.1 config with both of the bash tool's destinations. */
function writeV01(fx: Fixture, opts: V01Options): void {
  writeFileSync(
    fx.configFile,
    `host: testhost
sources:
  - ${fx.data}
destinations:
  local: ${fx.backups}
  usb_label: "${opts.label}"
${opts.subdir ? `  usb_subdir: ${opts.subdir}\n` : ""}retention:
  local_days: 0
  usb_days: ${opts.usbDays ?? 0}
age_recipient: ${fx.recipientsFile}
compressor: zstd
${opts.extra ?? ""}
`,
  );
}

/** The stick lab first (its cleanup must run before the fixture's), then the fixture. */
function setUp(t: TestContext, name: string): { lab: StickLab; fx: Fixture; env: Record<string, string> } | null {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return null;
  const lab = stickLab(t);
  if (!lab) return null;
  const fx = makeFixture(t, name);
  return { lab, fx, env: { SOVEREIGN_BACKUP_USB_MOUNT: lab.mountPoint } };
}

/** Final archive names only: the core may keep a `.sha256` sidecar beside each archive. */
function archivesIn(names: string[]): string[] {
  return names.filter((n) => n.endsWith(".age")).sort();
}

function listing(fx: Fixture, archive: string): string {
  return sh(`age -d -i ${fx.identity} ${archive} | zstd -d | tar -t`);
}

function onStick(lab: StickLab, stick: Stick, subdir = SUBDIR): string[] {
  return lab.inspect(stick, (root) => (existsSync(join(root, subdir)) ? readdirSync(join(root, subdir)).sort() : []));
}

function bigFile(fx: Fixture, mib: number): void {
  // Random bytes: incompressible, so the archive is as big as the source.
  execFileSync("sh", ["-c", `head -c ${mib}M /dev/urandom > ${join(fx.data, "big", "huge.bin")}`]);
}

test("--target usb finds the stick by label, mounts it, writes the archive, unmounts it", (t) => {
  const s = setUp(t, "usb-basic");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  writeV01(fx, { label: stick.label });
  const res = fx.run(["run", "--target", "usb"], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, new RegExp(`mounted the stick labelled ${stick.label} \\(${stick.device}\\) at ${lab.mountPoint}`));
  assert.match(res.stdout, /unmounted /);
  assert.equal(lab.mountedAt(lab.mountPoint), null, "sov unmounts what it mounted");
  assert.equal(statSync(lab.mountPoint).mode & 0o777, 0o700, "the mount point is created 0700");
  assert.deepEqual(archivesIn(fx.archives()), [], "--target usb leaves the local destination alone");

  lab.inspect(stick, (root) => {
    const dir = join(root, SUBDIR);
    const names = archivesIn(readdirSync(dir));
    assert.equal(names.length, 1, names.join());
    assert.match(names[0]!, ARCHIVE_RE);
    assert.equal(statSync(join(dir, names[0]!)).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok(listing(fx, join(dir, names[0]!)).includes("etc/app.conf"), "the archive decrypts and lists the source");
  });
});

test("restore finds the stick by its label through the storage contract: --list, --latest, then unmounts it", (t) => {
  const s = setUp(t, "usb-restore");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  writeV01(fx, { label: stick.label });
  const backup = fx.run(["run", "--target", "usb"], env);
  assert.equal(backup.code, 0, backup.stderr + backup.stdout);
  assert.equal(lab.mountedAt(lab.mountPoint), null);

  const restoreEnv = { ...env, SOVEREIGN_BACKUP_IDENTITY: fx.identity };
  const list = fx.run(["restore", "--list"], restoreEnv);
  assert.equal(list.code, 0, list.stderr + list.stdout);
  const rows = list.stdout.split("\n").filter((l) => /\.tar\.zst\.age/.test(l));
  assert.equal(rows.length, 1, list.stdout);
  assert.match(rows[0]!, /\busb\b/);
  assert.equal(lab.mountedAt(lab.mountPoint), null, "restore unmounts the stick it mounted");

  const target = join(fx.dir, "restored");
  const restore = fx.run(["restore", "--latest", target], restoreEnv);
  assert.equal(restore.code, 0, restore.stderr + restore.stdout);
  const restored = join(target, fx.data.slice(1), "etc", "app.conf");
  assert.deepEqual(readFileSync(restored), readFileSync(join(fx.data, "etc", "app.conf")));
  assert.equal(lab.mountedAt(lab.mountPoint), null, "restore unmounts the stick it mounted");
});

test("a stick already mounted at the mount point is used and stays mounted", (t) => {
  const s = setUp(t, "usb-premounted");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  lab.mount(stick, lab.mountPoint);
  writeV01(fx, { label: stick.label, subdir: "host/backups" });
  const res = fx.run(["run", "--target", "usb"], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /already mounted at .*leaving it mounted/);
  assert.equal(lab.mountedAt(lab.mountPoint), `${stick.device} ext4`, "the stick is still mounted");
  const names = archivesIn(readdirSync(join(lab.mountPoint, "host/backups")));
  assert.equal(names.length, 1);
  assert.match(names[0]!, ARCHIVE_RE);
});

test("a stick mounted elsewhere is written there, and sov says so and leaves it mounted", (t) => {
  const s = setUp(t, "usb-elsewhere");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  const elsewhere = join(lab.dir, "media-stick");
  lab.mount(stick, elsewhere);
  writeV01(fx, { label: stick.label });
  const res = fx.run(["run", "--target", "usb"], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, new RegExp(`is mounted at ${elsewhere}, not at ${lab.mountPoint}; writing there and leaving it mounted`));
  assert.equal(lab.mountedAt(elsewhere), `${stick.device} ext4`);
  assert.equal(lab.mountedAt(lab.mountPoint), null, "nothing was mounted at the mount point");
  assert.equal(archivesIn(readdirSync(join(elsewhere, SUBDIR))).length, 1);
});

test("another filesystem on the mount point, or a non-empty mount point, fails the destination (exit 1)", (t) => {
  const s = setUp(t, "usb-wrongmount");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  const other = lab.create();
  writeV01(fx, { label: stick.label });
  lab.mount(other, lab.mountPoint);
  const wrong = fx.run(["run", "--target", "usb"], env);
  assert.equal(wrong.code, 1, wrong.stderr);
  assert.match(wrong.stderr, new RegExp(`${lab.mountPoint} holds ${other.device} \\(ext4\\), not the stick labelled ${stick.label}`));
  execFileSync("umount", [lab.mountPoint]);

  writeFileSync(join(lab.mountPoint, "do-not-hide-me"), "x");
  const busy = fx.run(["run", "--target", "usb"], env);
  assert.equal(busy.code, 1, busy.stderr);
  assert.match(busy.stderr, /is not empty \(do-not-hide-me\); refusing to mount the stick over it/);
  assert.equal(lab.mountedAt(lab.mountPoint), null);
  assert.deepEqual(onStick(lab, stick), []);
});

test("a missing stick fails that destination with exit 1 naming the label; the local archive still commits and post_hook runs", (t) => {
  if (!needTools(t, "age", "age-keygen", "blkid")) return;
  const fx = makeFixture(t, "usb-missing");
  const label = uniqueLabel();
  const post = join(fx.dir, "post.sh");
  writeFileSync(post, `#!/bin/sh\nprintf '%s' "$SOV_STATUS" > ${join(fx.dir, "post.out")}\n`, { mode: 0o755 });
  writeV01(fx, { label, extra: `post_hook: ${post}` });
  const env = { SOVEREIGN_BACKUP_USB_MOUNT: join(fx.dir, "mnt") };

  const usbOnly = fx.run(["run", "--target", "usb"], env);
  assert.equal(usbOnly.code, 1, usbOnly.stderr);
  assert.match(usbOnly.stderr, new RegExp(`no device with filesystem label '${label}'.*is the stick plugged in\\?`));
  assert.equal(existsSync(join(fx.dir, "post.out")), false, "nothing committed: no post_hook");

  const both = fx.run(["run", "--target", "both"], env);
  assert.equal(both.code, 1, both.stderr);
  assert.match(both.stdout, /usb: FAILED: no device with filesystem label/);
  assert.equal(archivesIn(fx.archives()).length, 1, "the local destination committed");
  assert.equal(readFileSync(join(fx.dir, "post.out"), "utf8"), "partial");
});

test("a stick that fills up (ENOSPC) keeps no partial archive; the local archive of the same run commits", (t) => {
  const s = setUp(t, "usb-enospc");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create({ sizeMiB: 2 });
  bigFile(fx, 20);
  writeV01(fx, { label: stick.label });
  const res = fx.run(["run", "--target", "both"], env);
  assert.equal(res.code, 1, res.stderr + res.stdout);
  assert.match(res.stderr, /destination usb: ENOSPC: no space left on device.*the stick is full/);
  assert.match(res.stdout, /usb: FAILED: ENOSPC/);

  const local = archivesIn(fx.archives());
  assert.equal(local.length, 1, local.join());
  assert.ok(statSync(join(fx.backups, local[0]!)).size > 20 << 20);
  assert.ok(listing(fx, join(fx.backups, local[0]!)).includes("big/huge.bin"), "the local archive decrypts");
  assert.equal(lab.mountedAt(lab.mountPoint), null, "unmounted after the failure");
  assert.deepEqual(onStick(lab, stick), [], "no final name and no temporary file on the stick");
});

test("--target both writes byte-identical archives under the same name to local and the stick", (t) => {
  const s = setUp(t, "usb-both");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create();
  bigFile(fx, 8);
  writeV01(fx, { label: stick.label });
  const res = fx.run(["run", "--target", "both"], env);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  const [local] = archivesIn(fx.archives());
  assert.match(local!, ARCHIVE_RE);
  lab.inspect(stick, (root) => {
    assert.deepEqual(archivesIn(readdirSync(join(root, SUBDIR))), [local]);
    // age draws a fresh file key per encryption, so equal bytes mean one encryption, fanned out.
    execFileSync("cmp", [join(fx.backups, local!), join(root, SUBDIR, local!)]);
  });
});

test("the sov format: a named usb destination with subdir, mount and retention; --target names it; old archives are pruned", (t) => {
  const s = setUp(t, "usb-v2");
  if (!s) return;
  const { lab, fx } = s;
  const stick = lab.create();
  const old = "sovereign-backup-testhost-20200101-000000.tar.zst.age";
  const foreign = "sovereign-backup-otherhost-20200101-000000.tar.zst.age";
  lab.mount(stick, lab.mountPoint);
  mkdirSync(join(lab.mountPoint, "offsite/testhost"), { recursive: true, mode: 0o700 });
  for (const name of [old, foreign]) writeFileSync(join(lab.mountPoint, "offsite/testhost", name), "x");
  execFileSync("umount", [lab.mountPoint]);

  const mount = join(lab.dir, "v2-mnt");
  fx.writeV2Config(`destinations:
  - { name: local, plugin: local, path: ${fx.backups} }
  - { name: drawer, plugin: usb, label: "${stick.label}", subdir: offsite/testhost, mount: ${mount}, retention: { days: 7 } }
`);
  const res = fx.run(["run", "--target", "drawer"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /pruned .*20200101-000000/);
  assert.equal(lab.mountedAt(mount), null);
  assert.deepEqual(archivesIn(fx.archives()), []);
  const names = onStick(lab, stick, "offsite/testhost");
  assert.ok(!names.includes(old), "this host's expired archive is pruned");
  assert.ok(names.includes(foreign), "another host's archive is kept");
  assert.equal(names.filter((n) => ARCHIVE_RE.test(n)).length, 1, names.join());
});

test("unsafe usb options are config errors (exit 2) naming the file and line, before anything is mounted", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "usb-options");
  const cases: Array<[string, RegExp]> = [
    [`label: "a/b"`, /config\.yaml:\d+: .*label.*characters that are not allowed/],
    [`label: SOVX, subdir: "../etc"`, /destination usb: subdir \.\.\/etc must not contain '\.\.'/],
    [`label: SOVX, subdir: /etc`, /destination usb: subdir \/etc must be relative/],
    [`label: SOVX, mount: relative/dir`, /destination usb: mount relative\/dir must be an absolute path/],
    [`label: SOVX, mount: /`, /destination usb: mount cannot be \//],
    [`label: SOVX, fs_type: "ext4 -o exec"`, /config\.yaml:\d+: .*fs_type/],
    [`label: SOVX, device: /dev/sda`, /config\.yaml:\d+: .*device: .*unknown key/],
  ];
  for (const [options, message] of cases) {
    fx.writeV2Config(`destinations:
  - { name: usb, plugin: usb, ${options} }
`);
    const res = fx.run(["run"], { SOVEREIGN_BACKUP_USB_MOUNT: join(fx.dir, "mnt") });
    assert.equal(res.code, 2, `${options}: ${res.stderr}`);
    assert.match(res.stderr, message, options);
  }
  assert.equal(existsSync(join(fx.dir, "mnt")), false, "no mount point was created");
});

/** Starts `sov run`, resolves once the stick holds a temporary archive of at least `bytes`. */
async function startAndWaitForStickWrite(fx: Fixture, lab: StickLab, args: string[], env: Record<string, string>, bytes = 8 << 20) {
  const child = sovSpawn(args, { ...fx.env, ...env }, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  const dir = join(lab.mountPoint, SUBDIR);
  for (let i = 0; i < 3000; i++) {
    const tmp = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".tmp")) : [];
    const size = tmp[0] ? (statSync(join(dir, tmp[0]), { throwIfNoEntry: false })?.size ?? 0) : 0;
    if (size >= bytes) return { child, exited, output: () => output };
    await sleep(10);
  }
  child.kill("SIGKILL");
  await exited;
  throw new Error(`no temporary archive of ${bytes} bytes appeared on the stick; output: ${output}`);
}

test("SIGTERM mid-write: exit 1, the stick is unmounted and holds no partial archive", async (t) => {
  const s = setUp(t, "usb-sigterm");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create({ sizeMiB: 512 });
  bigFile(fx, 200);
  writeV01(fx, { label: stick.label });
  const { child, exited, output } = await startAndWaitForStickWrite(fx, lab, ["run", "--target", "usb"], env);
  const options = lab.mountOptions(lab.mountPoint);
  child.kill("SIGTERM");
  assert.ok(["nodev", "nosuid", "noexec"].every((o) => options?.includes(o)), `sov mounts nodev,nosuid,noexec: ${options?.join(",")}`);
  const code = await exited;
  assert.equal(code, 1, output());
  assert.match(output(), /received SIGTERM/);
  assert.match(output(), /unmounted /);
  assert.equal(lab.mountedAt(lab.mountPoint), null, "the stick is not left mounted");
  assert.deepEqual(onStick(lab, stick), [], "no partial archive, no temporary file");
});

test("a stick that disappears mid-write (lazily unmounted) fails that destination; the local archive commits", async (t) => {
  const s = setUp(t, "usb-gone");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create({ sizeMiB: 512 });
  bigFile(fx, 200);
  writeV01(fx, { label: stick.label });
  const { exited, output } = await startAndWaitForStickWrite(fx, lab, ["run", "--target", "both"], env);
  // Detaches the filesystem from the mount point the way a pulled stick leaves it: sov's paths
  // no longer reach it, while its open file still does.
  execFileSync("umount", ["-l", lab.mountPoint]);
  const code = await exited;
  assert.equal(code, 1, output());
  assert.match(output(), /no longer mounted at .*nothing was committed on it/);
  assert.equal(archivesIn(fx.archives()).length, 1, "the local destination committed");
  assert.equal(lab.mountedAt(lab.mountPoint), null);
  assert.deepEqual(onStick(lab, stick), [], "nothing under a final name; the temporary file removed through the directory handle");
});

test("issue 16: after kill -9 the stick stays mounted; the next run knows the mount is sov's and unmounts it", async (t) => {
  const s = setUp(t, "usb-kill9");
  if (!s) return;
  const { lab, fx, env } = s;
  const stick = lab.create({ sizeMiB: 512 });
  bigFile(fx, 200);
  writeV01(fx, { label: stick.label });
  const { child, exited } = await startAndWaitForStickWrite(fx, lab, ["run", "--target", "usb"], env);
  child.kill("SIGKILL");
  await exited;
  assert.notEqual(lab.mountedAt(lab.mountPoint), null, "a killed run cannot unmount: the stick is still mounted");

  rmSync(join(fx.data, "big", "huge.bin"));
  const next = fx.run(["run", "--target", "usb"], env);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr + next.stdout, /still mounted at .* by an interrupted sov run \(pid \d+\); using it and unmounting it at the end/);
  assert.match(next.stderr + next.stdout, /removed .*\.tmp, left by an interrupted run/);
  assert.equal(lab.mountedAt(lab.mountPoint), null, "the next run unmounted the stick sov had mounted");
  const left = onStick(lab, stick);
  assert.equal(archivesIn(left).length, 1, left.join());
  assert.equal(left.filter((n) => n.endsWith(".tmp")).length, 0, left.join());
  assert.deepEqual(readdirSync(join(fx.dir, "run", "usb-mounts")), [], "the mount note is gone with the mount");
});

