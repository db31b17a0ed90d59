import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import { extractArchive, restoreCommand, type DecoderLookup } from "../../src/restore/index.js";
import { buildTree } from "./fixtures.js";
import { assertSameTree, captureLogger, cliDecoders, makeAgeKey, needRoot, needTools, packTar, q, readableOf, removeTree, sh, sink, tempDir, type AgeKey } from "./helpers.js";

/**
 * Archives made the bash tool's way with the real CLIs verify and restore to exactly what GNU
 * tar extracts from the same archive. Each runs twice: through the plugins' decoders (the
 * production path, `loadDecoder`) and through the CLIs themselves (`age -d`, `zstd -d`), which
 * isolates extraction from the decoders.
 */
const FORMATS = [
  { suffix: "tar.zst.age", tools: ["zstd"], make: "tar -c -C \"$ROOT\" . | zstd -q -c | age -r \"$R\"", unpack: "zstd -d -q -c" },
  { suffix: "tar.gz.age", tools: ["gzip"], make: "tar -cz -C \"$ROOT\" . | age -r \"$R\"", unpack: "gzip -d -c" },
  { suffix: "tar.lz4.age", tools: ["lz4"], make: "tar -c -C \"$ROOT\" . | lz4 -q -c | age -r \"$R\"", unpack: "lz4 -d -q -c" },
  { suffix: "tar.age", tools: [], make: "tar -c -C \"$ROOT\" . | age -r \"$R\"", unpack: "cat" },
  { suffix: "tar.zst.age", tools: ["zstd"], make: "tar --format=posix -c -C \"$ROOT\" . | zstd -q -c | age -r \"$R\"", unpack: "zstd -d -q -c", label: "POSIX/pax format" },
] as const;

const DECODERS: Array<{ label: string; lookup: DecoderLookup | undefined }> = [
  { label: "plugin decoders", lookup: undefined },
  { label: "CLI decoders", lookup: cliDecoders },
];

describe("restore round trip with the real CLIs", () => {
  let work: string | undefined;
  let key: AgeKey;
  let root: string;
  let ready = false;

  after(() => {
    if (work) removeTree(work);
  });

  before(() => {
    if (!["tar", "age", "age-keygen"].every((t) => sh(`command -v ${t} || true`).trim())) return;
    work = fs.mkdtempSync("/tmp/sov-restore-rt-");
    key = makeAgeKey(work);
    root = join(work, "root");
    buildTree(root);
    ready = true;
  });

  for (const format of FORMATS) {
    const name = `sovereign-backup-testhost-20260102-030405.${format.suffix}`;
    const archiveFor = (t: TestContext) => {
      if (!needTools(t, "tar", "age", "age-keygen", ...format.tools)) return null;
      assert.ok(ready);
      const dir = tempDir(t);
      const file = join(dir, name);
      sh(`${format.make} > ${q(file)}`, { ROOT: root, R: key.recipient });
      const reference = join(dir, "gnu-tar");
      fs.mkdirSync(reference);
      sh(`age -d -i ${q(key.identity)} ${q(file)} | ${format.unpack} | tar -x -C ${q(reference)}`);
      return { dir, file, reference };
    };

    for (const decoders of DECODERS) {
      const label = `${format.suffix}${"label" in format ? ` (${format.label})` : ""}, ${decoders.label}`;
      const io = { stdout: sink(), ...(decoders.lookup ? { decoderFor: decoders.lookup } : {}) };

      test(`${label}: --verify exits 0`, async (t) => {
        const made = archiveFor(t);
        if (!made) return;
        const log = captureLogger();
        const code = await restoreCommand(["--verify", made.file, "--identity", key.identity], {}, log, io);
        assert.equal(code, 0, log.text());
        assert.match(log.text(), /verify ok/);
      });

      test(`${label}: restore equals GNU tar's extraction`, async (t) => {
        if (!needRoot(t)) return; // GNU tar as non-root applies the umask; sov keeps the archive's modes
        const made = archiveFor(t);
        if (!made) return;
        const target = join(made.dir, "restored");
        const log = captureLogger();
        const code = await restoreCommand([made.file, target, "--identity", key.identity, "--allow-setid", "--allow-devices"], {}, log, io);
        assert.equal(code, 0, log.text());
        assertSameTree(target, made.reference);
      });
    }
  }

  test("without --allow-setid the setuid bit is dropped, reported, and the exit code is 1", async (t) => {
    if (!needTools(t, "tar", "age", "age-keygen")) return;
    const dir = tempDir(t);
    const file = join(dir, "sovereign-backup-testhost-20260102-030405.tar.age");
    sh(`tar -c -C "$ROOT" . | age -r "$R" > ${q(file)}`, { ROOT: root, R: key.recipient });
    const target = join(dir, "restored");
    const log = captureLogger();
    const code = await restoreCommand([file, target, "--identity", key.identity], {}, log, { stdout: sink() });
    assert.equal(code, 1);
    assert.equal(fs.statSync(join(target, "setuid-tool")).mode & 0o7777, 0o755);
    assert.match(log.text(), /refused \.\/setuid-tool: setuid\/setgid bits dropped/);
    assert.equal(fs.readFileSync(join(target, "etc/hostname"), "utf8"), "box\n", "the rest is restored");
  });

  test("owners as root: by name when it exists here, else by number, like GNU tar; --numeric-owner uses numbers", async (t) => {
    if (!needRoot(t) || !needTools(t, "tar")) return;
    const dir = tempDir(t);
    const tar = await packTar([
      { name: "by-name", content: "1", uid: 4444, gid: 5555, uname: "daemon", gname: "daemon" },
      { name: "unknown-name", content: "2", uid: 4445, gid: 5556, uname: "no-such-user-sov", gname: "no-such-group-sov" },
      { name: "no-name", content: "3", uid: 4446, gid: 5557 },
    ]);
    const file = join(dir, "plain.tar");
    fs.writeFileSync(file, tar);
    const reference = join(dir, "gnu-tar");
    const ours = join(dir, "ours");
    const numeric = join(dir, "numeric");
    for (const d of [reference, ours, numeric]) fs.mkdirSync(d);
    sh(`tar -x -f ${q(file)} -C ${q(reference)}`);
    await extractArchive(readableOf(tar), ours, {});
    await extractArchive(readableOf(tar), numeric, { numericOwner: true });
    for (const name of ["by-name", "unknown-name", "no-name"]) {
      const want = fs.statSync(join(reference, name));
      const got = fs.statSync(join(ours, name));
      assert.deepEqual([got.uid, got.gid], [want.uid, want.gid], name);
    }
    assert.notEqual(fs.statSync(join(ours, "by-name")).uid, 4444, "the name won");
    assert.deepEqual([fs.statSync(join(numeric, "by-name")).uid, fs.statSync(join(numeric, "by-name")).gid], [4444, 5555]);
  });
});

test("extracting many small entries lets the event loop turn (signals, progress)", async (t) => {
  const dir = tempDir(t);
  // empty files: all of it is file system calls, which are synchronous, and a reader that never waits
  const entries = Array.from({ length: 10_000 }, (_, i) => ({ name: `d${Math.floor(i / 1000)}/f${i}`, content: "" }));
  const tar = await packTar(entries);
  let last = performance.now();
  let longest = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  const started = performance.now();
  let report;
  try {
    report = await extractArchive(readableOf(tar, tar.length), dir);
  } finally {
    clearInterval(ticker);
  }
  longest = Math.max(longest, performance.now() - last); // a timer that never ran waited all along
  const took = performance.now() - started;
  assert.equal(report.restored, 10_000);
  t.diagnostic(`10,000 empty files in ${took.toFixed(0)} ms; the event loop waited at most ${longest.toFixed(0)} ms`);
  // the extraction yields every 50 ms; a loaded machine may add to that, but never hold the loop for most of the run
  assert.ok(longest < Math.max(250, took / 2), `the event loop was held ${longest.toFixed(0)} ms of ${took.toFixed(0)} ms`);
});
