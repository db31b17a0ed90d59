import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { extractArchive, restoreCommand, type ExtractReport } from "../../src/restore/index.js";
import {
  captureLogger,
  END_OF_ARCHIVE,
  fingerprint,
  isRoot,
  gnuLongName,
  packTar,
  padBlock,
  passthroughDecoders,
  rawHeader,
  readableOf,
  sink,
  tempDir,
  type PackEntry,
} from "./helpers.js";

/**
 * Crafted archives, one per attack class the tar CVEs taught (node-tar 2021/2024, Python's
 * CVE-2007-4559). Each holds benign entries too. Whatever the archive does, nothing outside
 * TARGET may change: a sentinel directory beside TARGET (holding a victim file) is compared
 * before and after, and the directory holding both must gain nothing.
 */
interface Scene {
  base: string;
  target: string;
  outside: string;
  victim: string;
}

function scene(t: TestContext): Scene {
  const base = tempDir(t);
  const target = join(base, "target");
  const outside = join(base, "outside");
  fs.mkdirSync(target);
  fs.mkdirSync(outside, { mode: 0o700 });
  fs.chmodSync(outside, 0o700);
  const victim = join(outside, "victim");
  fs.writeFileSync(victim, "victim\n", { mode: 0o600 });
  return { base, target, outside, victim };
}

async function attack(t: TestContext, build: (s: Scene) => Promise<Buffer> | Buffer): Promise<{ s: Scene; report: ExtractReport; log: ReturnType<typeof captureLogger> }> {
  const s = scene(t);
  const before = fingerprint(s.outside);
  const tar = await build(s);
  const log = captureLogger();
  const report = await extractArchive(readableOf(tar, 700), s.target, { log });
  assert.equal(report.error, undefined, `the archive itself reads fine: ${report.error}`);
  assert.equal(fingerprint(s.outside), before, "nothing outside TARGET changed");
  assert.deepEqual(fs.readdirSync(s.base).sort(), ["outside", "target"], "nothing appeared beside TARGET");
  assert.equal(fs.statSync(s.victim).nlink, 1, "nothing links to the victim");
  assert.equal(fs.readFileSync(s.victim, "utf8"), "victim\n");
  return { s, report, log };
}

function assertRefused(report: ExtractReport, entry: string, reason: RegExp): void {
  const hit = report.refused.find((r) => r.entry === entry);
  assert.ok(hit, `${entry} is reported as refused; refused: ${JSON.stringify(report.refused)}`);
  assert.match(hit.reason, reason);
}

const benign: PackEntry[] = [
  { name: "good/", type: "directory" },
  { name: "good/file.txt", content: "fine\n" },
];

function assertBenignRestored(s: Scene): void {
  assert.equal(fs.readFileSync(join(s.target, "good/file.txt"), "utf8"), "fine\n");
}

describe("malicious archives write nothing outside TARGET", () => {
  test("'..' in entry names", async (t) => {
    const { s, report } = await attack(t, () =>
      packTar([
        ...benign,
        { name: "../outside/evil", content: "x" },
        { name: "good/../../outside/evil2", content: "x" },
        { name: "./../outside/evil3", content: "x" },
        { name: "..", type: "directory" },
      ]),
    );
    for (const n of ["../outside/evil", "good/../../outside/evil2", "./../outside/evil3", ".."]) assertRefused(report, n, /'\.\.'/);
    assertBenignRestored(s);
  });

  test("absolute entry names", async (t) => {
    const { s, report } = await attack(t, (sc) =>
      packTar([...benign, { name: `${sc.outside}/abs-evil`, content: "x" }, { name: `//${sc.outside}/abs-evil2`, content: "x" }, { name: "/", type: "directory", mode: 0o777 }]),
    );
    assertRefused(report, `${s.outside}/abs-evil`, /absolute/);
    assertRefused(report, `//${s.outside}/abs-evil2`, /absolute/);
    assertRefused(report, "/", /absolute/);
    assertBenignRestored(s);
  });

  test("a PAX header whose path (or linkpath) climbs out", async (t) => {
    const { s, report } = await attack(t, () =>
      packTar([
        ...benign,
        // tar-stream writes the name into a PAX `path=` record and `PaxHeader` into the ustar header.
        { name: "../../outside/pax-evil", content: "x", pax: {} },
        { name: "pax-hardlink", type: "link", linkname: "../outside/victim", pax: {} },
        { name: "good/pax-ok.txt", content: "pax fine\n", pax: { comment: "benign" } },
      ]),
    );
    assertRefused(report, "../../outside/pax-evil", /'\.\.'/);
    assertRefused(report, "pax-hardlink", /hard link .*'\.\.'/);
    assert.equal(fs.readFileSync(join(s.target, "good/pax-ok.txt"), "utf8"), "pax fine\n");
    assertBenignRestored(s);
  });

  test("a GNU long name (././@LongLink) that climbs out", async (t) => {
    const longEvil = `../outside/${"l".repeat(120)}`;
    const longGood = `good/${"g".repeat(150)}`;
    const data = padBlock(Buffer.from("x"));
    const { s, report } = await attack(t, async () =>
      Buffer.concat([
        (await packTar(benign)).subarray(0, -1024), // drop tar-stream's end-of-archive
        gnuLongName(longEvil),
        rawHeader({ name: "innocent-looking", typeflag: "0", size: 1 }),
        data,
        gnuLongName(longGood),
        rawHeader({ name: "truncated-name", typeflag: "0", size: 1 }),
        data,
        END_OF_ARCHIVE,
      ]),
    );
    assertRefused(report, longEvil, /'\.\.'/);
    assert.equal(fs.readFileSync(join(s.target, longGood), "utf8"), "x");
    assert.ok(!fs.existsSync(join(s.target, "innocent-looking")));
    assertBenignRestored(s);
  });

  test("a symlink to outside, then entries written through it", async (t) => {
    const { s, report } = await attack(t, (sc) =>
      packTar([
        ...benign,
        { name: "link", type: "symlink", linkname: sc.outside },
        { name: "link/file", content: "through the link" },
        { name: "link/victim", content: "overwritten" },
        { name: "link/newdir", type: "directory", mode: 0o777 },
        { name: "link/newdir/deeper", content: "x" },
      ]),
    );
    for (const n of ["link/file", "link/victim", "link/newdir", "link/newdir/deeper"]) assertRefused(report, n, /link is a symlink/);
    assert.equal(fs.readlinkSync(join(s.target, "link")), s.outside, "the symlink itself is restored as it is");
    assertBenignRestored(s);
  });

  test("a symlink replacing a directory mid-archive", async (t) => {
    const { s, report } = await attack(t, (sc) =>
      packTar([
        ...benign,
        { name: "d/", type: "directory", mode: 0o777 },
        { name: "d", type: "symlink", linkname: sc.outside },
        { name: "d/file", content: "through the replaced dir" },
        // A directory with content is never removed, so its files stay inside TARGET.
        { name: "full/", type: "directory" },
        { name: "full/inner", content: "in" },
        { name: "full", type: "symlink", linkname: sc.outside },
        { name: "full/after", content: "still inside" },
      ]),
    );
    assertRefused(report, "d/file", /d is a symlink/);
    assertRefused(report, "full", /directory with content is in the way/);
    assert.equal(fs.readFileSync(join(s.target, "full/after"), "utf8"), "still inside");
    // The delayed chmod 0777 of the first `d` must not land on the symlink's target.
    assert.equal(fs.statSync(s.outside).mode & 0o777, 0o700);
    assertBenignRestored(s);
  });

  test("hard links to targets outside, and through a symlink", async (t) => {
    const { s, report } = await attack(t, (sc) =>
      packTar([
        ...benign,
        { name: "h1", type: "link", linkname: "../outside/victim" },
        { name: "h2", type: "link", linkname: sc.victim },
        { name: "h3", type: "link", linkname: "../../etc/passwd" },
        { name: "h4", type: "link", linkname: "/etc/passwd" },
        { name: "out", type: "symlink", linkname: sc.outside },
        { name: "h5", type: "link", linkname: "out/victim" },
        { name: "h6", type: "link", linkname: "out" },
        { name: "h2", content: "pwned" }, // a later file by the same name must not write into a linked inode
        { name: "good/h-ok", type: "link", linkname: "good/file.txt" },
      ]),
    );
    assertRefused(report, "h1", /'\.\.'/);
    assertRefused(report, "h2", /absolute/);
    assertRefused(report, "h3", /'\.\.'/);
    assertRefused(report, "h4", /absolute/);
    assertRefused(report, "h5", /out is a symlink/);
    assert.equal(fs.readFileSync(join(s.target, "h2"), "utf8"), "pwned");
    assert.equal(fs.statSync(join(s.target, "good/h-ok")).ino, fs.statSync(join(s.target, "good/file.txt")).ino, "a hard link inside TARGET is restored");
    assert.equal(fs.statSync("/etc/passwd").nlink, 1);
    if (fs.existsSync(join(s.target, "h6"))) assert.ok(fs.lstatSync(join(s.target, "h6")).isSymbolicLink(), "a link to a symlink is the symlink, never its target");
    assertBenignRestored(s);
  });

  test("chains of symlinks", async (t) => {
    const { s, report } = await attack(t, () =>
      packTar([
        ...benign,
        { name: "a", type: "symlink", linkname: "b" },
        { name: "b", type: "symlink", linkname: "../outside" },
        { name: "a/x", content: "x" },
        { name: "c", type: "symlink", linkname: "a" },
        { name: "c/y", content: "y" },
        { name: "b2", type: "symlink", linkname: ".." },
        { name: "a2", type: "symlink", linkname: "b2" },
        { name: "a2/outside/z", content: "z" },
        { name: "a2/escape", type: "directory" },
      ]),
    );
    assertRefused(report, "a/x", /a is a symlink/);
    assertRefused(report, "c/y", /c is a symlink/);
    assertRefused(report, "a2/outside/z", /a2 is a symlink/);
    assertRefused(report, "a2/escape", /a2 is a symlink/);
    assertBenignRestored(s);
  });

  test("setuid/setgid bits and device nodes without the flags", async (t) => {
    const { s, report } = await attack(t, () =>
      packTar([
        ...benign,
        { name: "suid", content: "#!/bin/sh\n", mode: 0o4755 },
        { name: "sgid", content: "#!/bin/sh\n", mode: 0o2711 },
        { name: "shared/", type: "directory", mode: 0o2775 },
        { name: "null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
        { name: "sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660 },
      ]),
    );
    assertRefused(report, "suid", /setuid\/setgid bits dropped/);
    assertRefused(report, "sgid", /setuid\/setgid bits dropped/);
    assert.equal(fs.statSync(join(s.target, "suid")).mode & 0o7777, 0o755);
    assert.equal(fs.statSync(join(s.target, "sgid")).mode & 0o7777, 0o711);
    if (isRoot) assert.equal(fs.statSync(join(s.target, "shared")).mode & 0o7777, 0o2775, "setgid on a directory only picks the group of new files: kept");
    assertRefused(report, "null", /--allow-devices/);
    assertRefused(report, "sda", /--allow-devices/);
    assert.ok(!fs.existsSync(join(s.target, "null")) && !fs.existsSync(join(s.target, "sda")));
    assertBenignRestored(s);
  });

  test("absurdly deep names and empty names are refused", async (t) => {
    const deep = `${"d/".repeat(5000)}f`; // past the 4096 levels backup may write
    const { s, report } = await attack(t, () => packTar([...benign, { name: deep, content: "x" }, { name: ".", content: "x" }]));
    assertRefused(report, deep, /directory levels/);
    assertRefused(report, ".", /empty name/);
    assert.ok(!fs.existsSync(join(s.target, "d")));
    assertBenignRestored(s);
  });

  test("a refused entry makes `sov restore` exit 1 while the rest restores", async (t) => {
    const s = scene(t);
    const file = join(s.base, "sovereign-backup-evil-20260101-000000.tar.age");
    fs.writeFileSync(file, await packTar([...benign, { name: "../outside/evil", content: "x" }]));
    const identity = join(s.base, "identity");
    fs.writeFileSync(identity, "AGE-SECRET-KEY-NOT-USED\n");
    const log = captureLogger();
    const code = await restoreCommand([file, s.target, "--identity", identity], {}, log, { decoderFor: passthroughDecoders, stdout: sink() });
    assert.equal(code, 1);
    assert.match(log.text(), /refused \.\.\/outside\/evil: .*'\.\.'/);
    assertBenignRestored(s);
    assert.deepEqual(fs.readdirSync(s.outside), ["victim"]);
  });

  test("symlinks already in a non-empty TARGET are replaced, never written through", async (t) => {
    const { s, report } = await attack(t, (sc) => {
      fs.symlinkSync(sc.victim, join(sc.target, "x"));
      fs.symlinkSync(sc.outside, join(sc.target, "dir"));
      fs.writeFileSync(join(sc.target, "old"), "old\n");
      return packTar([
        ...benign,
        { name: "x", content: "new content" },
        { name: "dir/file", content: "through a pre-existing link" },
        { name: "hl", type: "link", linkname: "old" },
      ]);
    });
    assert.ok(fs.lstatSync(join(s.target, "x")).isFile(), "the symlink was replaced by the file");
    assert.equal(fs.readFileSync(join(s.target, "x"), "utf8"), "new content");
    assertRefused(report, "dir/file", /dir is a symlink/);
    assertRefused(report, "hl", /not created by this restore/);
    assertBenignRestored(s);
  });

  test("restoring over a system (TARGET /): its own symlinks are crossed, the archive's never", async (t) => {
    const s = scene(t);
    const before = fingerprint(s.outside);
    fs.mkdirSync(join(s.target, "run"));
    fs.mkdirSync(join(s.target, "var"));
    fs.symlinkSync("../run", join(s.target, "var/run")); // like Debian's /var/run -> /run
    const tar = await packTar([
      { name: "var/", type: "directory" },
      { name: "var/run/", type: "directory", mode: 0o777 },
      { name: "var/run/app.pid", content: "42\n" },
      { name: "var/lock", type: "symlink", linkname: s.outside },
      { name: "var/lock/x", content: "x" },
      { name: "var/lock2", type: "symlink", linkname: "run" },
      { name: "var/lock2/y", content: "y" },
    ]);
    const report = await extractArchive(readableOf(tar), s.target, { trustExistingSymlinks: true, log: captureLogger() });
    assert.equal(fs.readFileSync(join(s.target, "run/app.pid"), "utf8"), "42\n", "written through the system's symlink");
    assert.ok(fs.lstatSync(join(s.target, "var/run")).isSymbolicLink(), "the system's directory symlink is kept");
    assert.equal(fs.statSync(join(s.target, "run")).mode & 0o777, 0o755, "its target's mode is left alone");
    assertRefused(report, "var/lock/x", /var\/lock is a symlink/);
    assertRefused(report, "var/lock2/y", /var\/lock2 is a symlink/);
    assert.equal(fingerprint(s.outside), before);
  });
});
