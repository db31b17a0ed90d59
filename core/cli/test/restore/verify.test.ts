import assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { restoreCommand, verifyTar } from "../../src/restore/index.js";
import {
  captureLogger,
  makeAgeKey,
  needTools,
  packTar,
  passthroughDecoders,
  q,
  readableOf,
  sh,
  sink,
  tempDir,
} from "./helpers.js";

const NAME = "sovereign-backup-testhost-20260102-030405.tar.zst.age";

async function verify(file: string, identity: string, extra: { decoderFor?: typeof passthroughDecoders } = {}) {
  const log = captureLogger();
  const code = await restoreCommand(["--verify", file, "--identity", identity], {}, log, { stdout: sink(), ...extra });
  const failure = log.lines.find((l) => l.startsWith("error: ")) ?? "";
  return { code, failure, log };
}

describe("--verify catches damage, with the message saying which", () => {
  const setup = (t: TestContext) => {
    if (!needTools(t, "tar", "zstd", "age", "age-keygen")) return null;
    const dir = tempDir(t);
    const key = makeAgeKey(dir);
    const root = join(dir, "root");
    fs.mkdirSync(root);
    fs.writeFileSync(join(root, "random.bin"), sh("head -c 400000 /dev/urandom | base64"));
    fs.writeFileSync(join(root, "small"), "hello\n");
    const good = join(dir, NAME);
    sh(`tar -c -C ${q(root)} . | zstd -q -c | age -r ${q(key.recipient)} > ${q(good)}`);
    return { dir, key, root, good };
  };

  test("a good archive verifies; truncated, bit-flipped and wrong-identity ones fail with distinct messages", async (t) => {
    const s = setup(t);
    if (!s) return;
    const ok = await verify(s.good, s.key.identity);
    assert.equal(ok.code, 0, ok.log.text());

    const size = fs.statSync(s.good).size;
    const truncated = join(s.dir, "truncated", NAME);
    fs.mkdirSync(join(s.dir, "truncated"));
    fs.writeFileSync(truncated, fs.readFileSync(s.good).subarray(0, size - 1000));

    const flipped = join(s.dir, "flipped", NAME);
    fs.mkdirSync(join(s.dir, "flipped"));
    const bytes = fs.readFileSync(s.good);
    bytes[Math.floor(size / 2)]! ^= 0x01;
    fs.writeFileSync(flipped, bytes);

    const other = makeAgeKey(s.dir, "other");

    const results = {
      truncated: await verify(truncated, s.key.identity),
      flipped: await verify(flipped, s.key.identity),
      "wrong identity": await verify(s.good, other.identity),
    };
    for (const [what, r] of Object.entries(results)) {
      assert.equal(r.code, 1, `${what}: exit 1`);
      assert.match(r.failure, /verify FAILED: .*decrypting \(\.age\)/, `${what}: names the stage`);
    }
    const messages = Object.values(results).map((r) => r.failure);
    assert.equal(new Set(messages).size, 3, `three distinct messages:\n${messages.join("\n")}`);
  });

  test("a truncated tar inside an intact envelope fails: the end-of-archive marker is missing", async (t) => {
    const s = setup(t);
    if (!s) return;
    const plain = join(s.dir, "plain.tar");
    sh(`tar -c -C ${q(s.root)} . > ${q(plain)}`);
    const cases: Array<[string, number, RegExp]> = [
      ["cut inside a file's data", 200_000, /reading the tar: the tar ends inside the data of .*random\.bin \(truncated archive\)/],
      ["cut between two entries", -1, /reading the tar: the tar ends without its end-of-archive marker/],
    ];
    // The second cut: right after the last entry's data, before the zero blocks.
    const tarBytes = fs.readFileSync(plain);
    let end = tarBytes.length;
    while (end >= 512 && tarBytes.subarray(end - 512, end).every((b) => b === 0)) end -= 512;
    for (const [what, cut, expected] of cases) {
      const dir = join(s.dir, `cut${cut}`);
      fs.mkdirSync(dir);
      const file = join(dir, NAME);
      fs.writeFileSync(join(dir, "part.tar"), tarBytes.subarray(0, cut === -1 ? end : cut));
      sh(`zstd -q -c ${q(join(dir, "part.tar"))} | age -r ${q(s.key.recipient)} > ${q(file)}`);
      const r = await verify(file, s.key.identity);
      assert.equal(r.code, 1, what);
      assert.match(r.failure, expected, what);
    }
  });

  test("a missing identity file is exit 2 and names the file", async (t) => {
    const s = setup(t);
    if (!s) return;
    const missing = join(s.dir, "no-such-identity");
    const r = await verify(s.good, missing);
    assert.equal(r.code, 2);
    assert.match(r.log.text(), /age identity .*no-such-identity .*does not exist/);
    const dirAsIdentity = await verify(s.good, s.dir);
    assert.equal(dirAsIdentity.code, 2);
  });

  test("the identity comes from $SOVEREIGN_BACKUP_IDENTITY when --identity is absent", async (t) => {
    const s = setup(t);
    if (!s) return;
    const log = captureLogger();
    const code = await restoreCommand(["--verify", s.good], { SOVEREIGN_BACKUP_IDENTITY: s.key.identity }, log, { stdout: sink() });
    assert.equal(code, 0, log.text());
    const noKey = await restoreCommand(["--verify", s.good], { SOVEREIGN_BACKUP_IDENTITY: join(s.dir, "gone") }, captureLogger(), { stdout: sink() });
    assert.equal(noKey, 2);
  });
});

describe("verifyTar: a well-formed tar, read to its end", () => {
  test("a complete tar verifies and counts its entries", async () => {
    const tar = await packTar([{ name: "a", content: "1" }, { name: "d", type: "directory" }, { name: "d/b", content: "22" }]);
    const r = await verifyTar(readableOf(tar, 100));
    assert.deepEqual({ ok: r.ok, entries: r.entries, files: r.files, bytes: r.bytes }, { ok: true, entries: 3, files: 2, bytes: 3 });
  });

  test("missing end-of-archive, a lone zero block, a corrupt header and a cut header are all failures", async () => {
    const tar = await packTar([{ name: "a", content: "1" }, { name: "b", content: "2" }]);
    const body = tar.subarray(0, 2048); // two entries, no zero blocks
    const corrupt = Buffer.from(tar);
    corrupt[1025]! ^= 0xff; // inside the second header's name
    const cases: Array<[string, Buffer, RegExp]> = [
      ["no zero blocks", body, /without its end-of-archive marker after b/],
      ["one zero block", Buffer.concat([body, Buffer.alloc(512)]), /single zero block/],
      ["a zero block then more entries", Buffer.concat([tar.subarray(0, 1024), Buffer.alloc(512), tar.subarray(1024)]), /lone zero block/],
      ["a corrupt header", corrupt, /checksum mismatch at byte 1024/],
      ["a cut header", tar.subarray(0, 1024 + 100), /ends inside a header/],
      ["garbage", Buffer.alloc(4096, 0x41), /checksum mismatch at byte 0/],
    ];
    for (const [what, bytes, expected] of cases) {
      const r = await verifyTar(readableOf(bytes, 300));
      assert.equal(r.ok, false, what);
      assert.match(r.error ?? "", expected, what);
    }
  });

  test("entries a restore would refuse are listed, without failing the check", async () => {
    const tar = await packTar([
      { name: "../evil", content: "x" },
      { name: "ok", content: "y" },
      { name: "h", type: "link", linkname: "/etc/passwd" },
      { name: "./", type: "directory" },
      { name: ".", content: "a file in TARGET's place" },
    ]);
    const r = await verifyTar(readableOf(tar));
    assert.equal(r.ok, true);
    assert.deepEqual(r.unsafe.map((u) => [u.entry, u.reason]), [
      ["../evil", "the name contains '..' (would be written outside TARGET)"],
      ["h", "hard link target: absolute name (would be written outside TARGET)"],
      [".", "empty name"],
    ], "as a restore refuses them; TARGET's own directory entry is fine");
  });

  test("an error from a decoder is reported with its stage", async (t) => {
    const dir = tempDir(t);
    const file = join(dir, "sovereign-backup-h-20260101-000000.tar.age");
    fs.writeFileSync(file, await packTar([{ name: "a", content: "1" }]));
    const identity = join(dir, "id");
    fs.writeFileSync(identity, "x");
    const failing = async (extension: string) => ({
      extension,
      createDecodeStream: async () => {
        const { Transform } = await import("node:stream");
        return new Transform({ transform: (_c, _e, cb) => cb(new Error("chunk 3 failed authentication")) });
      },
    });
    const r = await verify(file, identity, { decoderFor: failing });
    assert.equal(r.code, 1);
    assert.match(r.failure, /verify FAILED: sovereign-backup-h-20260101-000000\.tar\.age: decrypting \(\.age\): chunk 3 failed authentication/);
    const passthrough = await verify(file, identity, { decoderFor: passthroughDecoders });
    assert.equal(passthrough.code, 0, passthrough.log.text());
  });
});
