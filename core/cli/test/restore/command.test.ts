import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { PassThrough, Transform } from "node:stream";
import { describe, test, type TestContext } from "node:test";
import { type DecoderLookup, latestArchive, listArchives, restoreCommand, type RestoreIO } from "../../src/restore/index.js";
import { loadDecoder, silentLogger } from "@sov/core";
import { needTools } from "@sov/core/testing";
import { BLOCK_SIZE, encodePaxHeader, paxRecord } from "@sov/core/archive";
import { captureLogger, packTar, passthroughDecoders, sink, tempDir } from "./helpers.js";

/**
 * The command surface (`--list`, `--latest`, TARGET rules, partial restore). Archives here are
 * plain tars named `.tar.age` and "decrypted" by a pass-through decoder: the layers are covered
 * by the round-trip tests, this is about choosing archives and places.
 */
interface Env {
  dir: string;
  archives: string;
  identity: string;
}

function setup(t: TestContext): Env {
  const dir = tempDir(t);
  const archives = join(dir, "archives");
  fs.mkdirSync(archives);
  const identity = join(dir, "identity");
  fs.writeFileSync(identity, "AGE-SECRET-KEY-PLACEHOLDER\n", { mode: 0o600 });
  return { dir, archives, identity };
}

async function addArchive(dir: string, name: string, mtime: Date, marker = name): Promise<string> {
  const file = join(dir, name);
  fs.writeFileSync(
    file,
    await packTar([
      { name: "etc/", type: "directory" },
      { name: "etc/nginx/", type: "directory" },
      { name: "etc/nginx/nginx.conf", content: "nginx\n" },
      { name: "etc/nginx/sites/a.conf", content: "a\n" },
      { name: "etc/hosts", content: "hosts\n" },
      { name: "srv/app.conf", content: "app\n" },
      { name: "srv/data.bin", content: "data\n" },
      { name: "which", content: marker },
    ]),
  );
  fs.utimesSync(file, mtime, mtime);
  return file;
}

async function run(argv: string[], env: NodeJS.ProcessEnv = {}, io: Partial<RestoreIO> = {}) {
  const log = captureLogger();
  const stdout = sink();
  const code = await restoreCommand(argv, env, log, { decoderFor: passthroughDecoders, stdout, stdin: new PassThrough(), stderr: sink(), ...io });
  return { code, log, stdout: stdout.text() };
}

describe("sov restore --list and --latest", () => {
  test("--latest picks the newest by the timestamp in the name, not the file's mtime", async (t) => {
    const e = setup(t);
    // mtimes in the opposite order of the names' timestamps
    await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date("2020-01-01"));
    await addArchive(e.archives, "sovereign-backup-web-20250301-020000-1.tar.age", new Date("2020-01-02"));
    await addArchive(e.archives, "sovereign-backup-web-20250201-020000.tar.age", new Date("2021-01-01"));
    await addArchive(e.archives, "sovereign-backup-web-20241231-235959.tar.age", new Date("2024-12-31"));
    await addArchive(e.archives, "sovereign-backup-db-20260101-000000.tar.age", new Date("2019-01-01")); // another host, newer
    const target = join(e.dir, "out");
    const r = await run(["--latest", target, "--dir", e.archives, "--host", "web", "--identity", e.identity]);
    assert.equal(r.code, 0, r.log.text());
    assert.equal(fs.readFileSync(join(target, "which"), "utf8"), "sovereign-backup-web-20250301-020000-1.tar.age");

    const listed = await listArchives([{ destination: "dir", dir: e.archives }], silentLogger());
    assert.equal(latestArchive(listed, "web")?.name, "sovereign-backup-web-20250301-020000-1.tar.age");
    assert.equal(latestArchive(listed, "db")?.name, "sovereign-backup-db-20260101-000000.tar.age");
    assert.equal(latestArchive(listed, "nobody"), undefined);
  });

  test("--verify --latest checks the newest archive; --help prints the usage", async (t) => {
    const e = setup(t);
    await addArchive(e.archives, "sovereign-backup-web-20250101-000000.tar.age", new Date());
    fs.writeFileSync(join(e.archives, "sovereign-backup-web-20250201-000000.tar.age"), "not a tar at all, and newer");
    const r = await run(["--verify", "--latest", "--dir", e.archives, "--host", "web", "--identity", e.identity]);
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /verify FAILED: sovereign-backup-web-20250201-000000\.tar\.age: reading the tar/);
    const help = await run(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /sov restore --list/);
  });

  test("--latest defaults to the config's host; no archive of that host is exit 1", async (t) => {
    const e = setup(t);
    await addArchive(e.archives, "sovereign-backup-alpha-20250101-000000.tar.age", new Date());
    await addArchive(e.archives, "sovereign-backup-beta-20250601-000000.tar.age", new Date());
    const config = join(e.dir, "config.yaml");
    fs.writeFileSync(config, `host: alpha\nsources: [/etc]\nage_recipient: /etc/age.pub\ndestinations:\n  local: ${e.archives}\n`);
    const target = join(e.dir, "out");
    const r = await run(["--latest", target, "--config", config, "--identity", e.identity]);
    assert.equal(r.code, 0, r.log.text());
    assert.equal(fs.readFileSync(join(target, "which"), "utf8"), "sovereign-backup-alpha-20250101-000000.tar.age");
    const none = await run(["--latest", join(e.dir, "out2"), "--config", config, "--host", "gamma", "--identity", e.identity]);
    assert.equal(none.code, 1);
    assert.match(none.log.text(), /no archives of host gamma/);
  });

  test("--list shows every archive of the configured destinations, oldest first; a stick that is not there is named", async (t) => {
    const e = setup(t);
    await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date("2020-01-01"));
    await addArchive(e.archives, "sovereign-backup-db-20250101-020000.tar.age", new Date("2022-01-01"));
    await addArchive(e.archives, "sovereign-backup-web-20250201-020000.tar.age", new Date("2021-01-01"));
    fs.writeFileSync(join(e.archives, "notes.txt"), "not an archive");
    fs.writeFileSync(join(e.archives, "sovereign-backup-web-20250401-020000.tar.zst.age.4242.tmp"), "a run in progress");
    const config = join(e.dir, "config.yaml");
    // No stick carries this label here: the USB destination cannot be opened (tested for real in usb.test).
    fs.writeFileSync(config, `host: web\nsources: [/etc]\nage_recipient: /etc/age.pub\ndestinations:\n  local: ${e.archives}\n  usb_label: SOVNOSUCHSTICK\n  usb_subdir: backups\n`);

    const r = await run(["--list", "--config", config], { SOVEREIGN_BACKUP_USB_MOUNT: join(e.dir, "usb-mount") });
    assert.equal(r.code, 0, r.log.text());
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0]!, /^DATE\s+SIZE\s+WHERE\s+PATH$/);
    const rows = lines.slice(1).map((l) => l.split(/\s{2,}/));
    assert.deepEqual(
      rows.map((row) => [row[0], row[2], row[3]]),
      [
        ["2025-01-01 02:00:00", "local", join(e.archives, "sovereign-backup-db-20250101-020000.tar.age")],
        ["2025-02-01 02:00:00", "local", join(e.archives, "sovereign-backup-web-20250201-020000.tar.age")],
        ["2025-03-01 02:00:00", "local", join(e.archives, "sovereign-backup-web-20250301-020000.tar.age")],
      ],
    );
    assert.match(rows[0]![1]!, /^\d+(\.\d)? (B|KiB)$/);
    assert.match(r.log.text(), /destination usb: cannot open: .*SOVNOSUCHSTICK/);
  });

  test("--list --dir needs no config; a bare archive name from the list restores", async (t) => {
    const e = setup(t);
    await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const r = await run(["--list", "--dir", e.archives], { SOVEREIGN_BACKUP_CONFIG_DIR: join(e.dir, "no-config") });
    assert.equal(r.code, 0, r.log.text());
    assert.match(r.stdout, /sovereign-backup-web-20250301-020000\.tar\.age/);
    const target = join(e.dir, "out");
    const byName = await run(["sovereign-backup-web-20250301-020000.tar.age", target, "--dir", e.archives, "--identity", e.identity]);
    assert.equal(byName.code, 0, byName.log.text());
    assert.ok(fs.existsSync(join(target, "etc/hosts")));
  });
});

describe("sov restore TARGET rules", () => {
  test("TARGET / without a terminal is refused with exit 2, before anything is read", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    let opened = false;
    const r = await run([file, "/", "--identity", e.identity], {}, {
      decoderFor: async (ext) => {
        opened = true;
        return passthroughDecoders(ext);
      },
    });
    assert.equal(r.code, 2);
    assert.match(r.log.text(), /restoring to \/ needs a person to type YES at a terminal/);
    assert.equal(opened, false);
    const dotdot = await run([file, "/tmp/../", "--identity", e.identity]);
    assert.equal(dotdot.code, 2, "/tmp/.. is / too");
  });

  test("TARGET / at a terminal needs exactly YES", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    const pending = run([file, "/", "--identity", e.identity], {}, { stdin: tty });
    tty.write("yes\n");
    const r = await pending;
    assert.equal(r.code, 2);
    assert.match(r.log.text(), /not confirmed/);
  });

  test("a TARGET that is a symlink, or a file, is refused with exit 2", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const real = join(e.dir, "real");
    fs.mkdirSync(real);
    fs.symlinkSync(real, join(e.dir, "link"));
    const r = await run([file, join(e.dir, "link"), "--identity", e.identity]);
    assert.equal(r.code, 2);
    assert.match(r.log.text(), /is a symlink/);
    assert.deepEqual(fs.readdirSync(real), []);
    const asFile = await run([file, file, "--identity", e.identity]);
    assert.equal(asFile.code, 2);
  });

  test("no TARGET: a new /tmp/sovereign-restore-<timestamp> directory, mode 0700", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const now = new Date(2001, 0, 2, 3, 4, 5);
    const expected = "/tmp/sovereign-restore-20010102-030405";
    t.after(() => {
      for (const p of [expected, `${expected}-1`]) fs.rmSync(p, { recursive: true, force: true });
    });
    const r = await run([file, "--identity", e.identity], {}, { now: () => now });
    assert.equal(r.code, 0, r.log.text());
    assert.equal(fs.statSync(expected).mode & 0o777, 0o700);
    assert.ok(fs.existsSync(join(expected, "etc/nginx/nginx.conf")));
    const again = await run([file, "--identity", e.identity], {}, { now: () => now });
    assert.equal(again.code, 0);
    assert.ok(fs.existsSync(join(`${expected}-1`, "which")), "never reuses an existing directory");
  });

  test("a missing identity is exit 2 before any TARGET is touched", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", join(e.dir, "missing")]);
    assert.equal(r.code, 2);
    assert.equal(fs.existsSync(target), false);
  });
});

describe("partial restore", () => {
  test("--path restores only the named paths and what is below them, like tar -x PATH", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const target = join(e.dir, "out");
    const r = await run([file, target, "--path", "etc/nginx", "--path", "/srv/*.conf", "--identity", e.identity]);
    assert.equal(r.code, 0, r.log.text());
    const files: string[] = [];
    const walk = (d: string, rel: string) => {
      for (const n of fs.readdirSync(d)) {
        const p = join(d, n);
        if (fs.statSync(p).isDirectory()) walk(p, `${rel}${n}/`);
        else files.push(`${rel}${n}`);
      }
    };
    walk(target, "");
    assert.deepEqual(files.sort(), ["etc/nginx/nginx.conf", "etc/nginx/sites/a.conf", "srv/app.conf"]);
  });

  test("a --path that matches nothing is reported and exits 1", async (t) => {
    const e = setup(t);
    const file = await addArchive(e.archives, "sovereign-backup-web-20250301-020000.tar.age", new Date());
    const r = await run([file, join(e.dir, "out"), "--path", "etc/hosts", "--path", "etc/nope", "--identity", e.identity]);
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /etc\/nope: not found in the archive/);
    assert.ok(fs.existsSync(join(e.dir, "out/etc/hosts")));
  });
});

describe("argument errors are exit 2", () => {
  for (const argv of [[], ["--list", "extra"], ["a", "b", "c"], ["--verify"], ["--verify", "--list"], ["--latest", "a", "b"], ["--bogus"], ["--host", "x", "file"], ["--verify", "f", "--path", "x"]]) {
    test(`sov restore ${argv.join(" ")}`, async () => {
      const r = await run(argv);
      assert.equal(r.code, 2, r.log.text());
    });
  }

  test("a FILE that does not exist, or whose name says nothing of its layers", async (t) => {
    const e = setup(t);
    assert.equal((await run(["/nonexistent/archive.tar.zst.age", "--identity", e.identity])).code, 2);
    const odd = join(e.dir, "backup.bin");
    fs.writeFileSync(odd, "x");
    const r = await run(["--verify", odd, "--identity", e.identity]);
    assert.equal(r.code, 2);
    assert.match(r.log.text(), /not an archive name/);
  });

  test("a damaged archive during restore is exit 1 and says what was written", async (t) => {
    const e = setup(t);
    const file = join(e.archives, "sovereign-backup-web-20250301-020000.tar.age");
    const tar = await packTar([{ name: "a", content: "1" }, { name: "b", content: "2".repeat(2000) }]);
    fs.writeFileSync(file, tar.subarray(0, 1024 + 512 + 512)); // cut inside b's data
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", e.identity]);
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /restore FAILED: reading the tar: the tar ends inside the data of b/);
    assert.equal(fs.existsSync(join(target, "b")), false, "a partial file is removed");
    assert.equal(fs.readFileSync(join(target, "a"), "utf8"), "1");
  });

  // A whole archive's extraction runs on a worker thread (extract-thread.ts): what the decoders
  // say, what the extractor refuses and when reading stops must come out as they did inline.
  test("a decoder failing part way: exit 1, its stage leads the message, what came before stays", async (t) => {
    const e = setup(t);
    const file = join(e.archives, "sovereign-backup-web-20250301-020000.tar.age");
    fs.writeFileSync(file, await packTar([{ name: "a", content: "1" }, { name: "b", content: "2".repeat(300_000) }]));
    const failingAfter = (limit: number): DecoderLookup => async (extension) => ({
      extension,
      createDecodeStream: async () => {
        let passed = 0;
        return new Transform({
          transform(chunk: Buffer, _enc, done) {
            const room = limit - passed;
            passed += chunk.length;
            if (room >= chunk.length) return done(null, chunk);
            this.push(chunk.subarray(0, room)); // what authenticated before the damage
            done(new Error("chunk 3 failed authentication"));
          },
        });
      },
    });
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", e.identity], {}, { decoderFor: failingAfter(100_000) });
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /restore FAILED: decrypting \(\.age\): chunk 3 failed authentication/);
    assert.equal(fs.readFileSync(join(target, "a"), "utf8"), "1");
    assert.equal(fs.existsSync(join(target, "b")), false, "a partial file is removed");
  });

  test("a zstd archive cut part way: zstd's own ring feeds the extraction thread; exit 1, the zstd stage leads, what came before stays", async (t) => {
    if (!needTools(t, "zstd")) return;
    const e = setup(t);
    const file = join(e.archives, "sovereign-backup-web-20250301-020000.tar.zst.age");
    const big = randomBytes(6 << 20); // more than the ring holds, so it wraps before the cut
    const tar = await packTar([{ name: "a", content: "1" }, { name: "big", content: big }, { name: "b", content: randomBytes(400_000) }, { name: "c", content: "3" }]);
    const compressed = execFileSync("zstd", ["-q", "-c", "-3"], { input: tar, maxBuffer: 1 << 26 });
    // the real zstd decoder (it shares its output ring with the extraction thread); no encryption
    const zstdOnly: DecoderLookup = async (extension) => (extension === "zst" ? loadDecoder("zst") : passthroughDecoders(extension));
    fs.writeFileSync(file, compressed);
    const whole = join(e.dir, "whole");
    const ok = await run([file, whole, "--identity", e.identity], {}, { decoderFor: zstdOnly });
    assert.equal(ok.code, 0, ok.log.text());
    assert.ok(fs.readFileSync(join(whole, "big")).equals(big), "the large file comes through the shared ring intact");
    assert.equal(fs.readFileSync(join(whole, "c"), "utf8"), "3");
    const verified = await run(["--verify", file, "--identity", e.identity], {}, { decoderFor: zstdOnly }); // the tar is read on the thread too
    assert.equal(verified.code, 0, verified.log.text());
    assert.match(verified.log.text(), /verify ok: .*: 4 entries, 4 files/);
    // cut inside b's data (incompressible, so its last blocks are the stream's last bytes): zstd
    // says its stream ends in a frame, after everything before the cut
    fs.writeFileSync(file, compressed.subarray(0, compressed.length - 200));
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", e.identity], {}, { decoderFor: zstdOnly });
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /restore FAILED: decompressing \(\.zst\): the zstd stream ends in the middle of a frame/);
    assert.equal(fs.readFileSync(join(target, "a"), "utf8"), "1");
    assert.ok(fs.readFileSync(join(target, "big")).equals(big), "what came before the cut stays");
    assert.equal(fs.existsSync(join(target, "b")), false, "a partial file is removed");
    assert.equal(fs.existsSync(join(target, "c")), false, "nothing after the cut is made up");
    const cutVerify = await run(["--verify", file, "--identity", e.identity], {}, { decoderFor: zstdOnly });
    assert.equal(cutVerify.code, 1);
    assert.match(cutVerify.log.text(), /verify FAILED: .*: decompressing \(\.zst\): the zstd stream ends in the middle of a frame/);
  });

  test("a global PAX record still applies after megabytes of data have passed through the extraction thread", async (t) => {
    const e = setup(t);
    const file = join(e.archives, "sovereign-backup-web-20250301-020000.tar.age");
    // a global header ('g') setting every later entry's mtime, then more than the thread's ring holds
    const global = encodePaxHeader({ name: "pax_global_header", type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 0 }, paxRecord("mtime", "1234567890"));
    global[156] = "g".charCodeAt(0);
    global.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < BLOCK_SIZE; i++) sum += global[i]!;
    global.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    const rest = await packTar([{ name: "big", content: Buffer.alloc(12 << 20, 0x5a) }, { name: "late", content: "late\n" }]);
    fs.writeFileSync(file, Buffer.concat([global, rest]));
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", e.identity]);
    assert.equal(r.code, 0, r.log.text());
    assert.equal(fs.statSync(join(target, "late")).mtimeMs, 1234567890 * 1000);
    assert.equal(fs.statSync(join(target, "big")).mtimeMs, 1234567890 * 1000);
  });

  test("the extractor's refusals reach the command's log, and a broken tar stops the reading early", async (t) => {
    const e = setup(t);
    const file = join(e.archives, "sovereign-backup-web-20250301-020000.tar.age");
    const good = await packTar([{ name: "../evil", content: "x" }, { name: "a", content: "1" }]);
    // a header block of garbage, then 64 MiB the restore must not read to the end
    const broken = Buffer.concat([good.subarray(0, good.length - 1024), Buffer.alloc(512, 0x41), Buffer.alloc(64 << 20)]);
    fs.writeFileSync(file, broken);
    let read = 0;
    const counting: DecoderLookup = async (extension) => ({
      extension,
      createDecodeStream: async () =>
        new Transform({
          transform(chunk: Buffer, _enc, done) {
            read += chunk.length;
            done(null, chunk);
          },
        }),
    });
    const target = join(e.dir, "out");
    const r = await run([file, target, "--identity", e.identity], {}, { decoderFor: counting });
    assert.equal(r.code, 1);
    assert.match(r.log.text(), /warn: refused \.\.\/evil: .*'\.\.'/);
    assert.match(r.log.text(), /restore FAILED: reading the tar: tar header checksum mismatch/);
    assert.equal(fs.readFileSync(join(target, "a"), "utf8"), "1");
    assert.ok(read < 32 << 20, `read ${read} bytes of ${broken.length} after the tar broke`);
  });
});
