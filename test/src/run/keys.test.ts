import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ageKeypair, needTools, sh, sov } from "../helpers.js";
import { makeFixture } from "./fixture.js";

test("an archive for two recipients decrypts with either identity (real age CLI)", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "two-recipients");
  const second = ageKeypair(fx.dir, "second");
  writeFileSync(fx.recipientsFile, `# two keys, one in the safe, one with a colleague\n${fx.recipient}\n\n${second.recipient}\r\n`);
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  const archive = join(fx.backups, fx.archives()[0]!);
  for (const identity of [fx.identity, second.identity]) {
    assert.match(sh(`age -d -i ${identity} ${archive} | zstd -d | tar -t`), /etc\/app\.conf/);
  }
});

test("a recipients file mixing a post-quantum and a classic key: exit 2, nothing written", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "mixed-recipients");
  const pq = sov(["keygen", "--pq", "--out", join(fx.dir, "pq-identity.txt")]);
  assert.equal(pq.code, 0, pq.stderr);
  writeFileSync(fx.recipientsFile, `${fx.recipient}\n${pq.stdout.trim()}\n`);
  const res = fx.run();
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`the recipients \\(from ${fx.recipientsFile}\\) mix post-quantum \\(age1pq1.+\\) and classic \\(${fx.recipient}\\) keys`));
  assert.deepEqual(fx.files(), [], "nothing written");
});

test("sov keygen: a 0600 identity whose recipient age accepts, never overwritten", (t) => {
  if (!needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "keygen");
  const out = join(fx.dir, "new-identity.txt");
  const res = sov(["keygen", "--out", out]);
  assert.equal(res.code, 0, res.stderr);
  const recipient = res.stdout.trim();
  assert.match(recipient, /^age1[0-9a-z]{58}$/);
  assert.equal(statSync(out).mode & 0o777, 0o600);
  assert.match(res.stderr, /Move the identity OFF this host/);
  assert.equal(sh(`age-keygen -y ${out}`).trim(), recipient, "age-keygen derives the same recipient");
  const before = readFileSync(out, "utf8");
  const again = sov(["keygen", "--out", out]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /refusing to overwrite/);
  assert.equal(readFileSync(out, "utf8"), before);
  // The new key works end to end: sov encrypts to it, age decrypts.
  writeFileSync(fx.recipientsFile, `${recipient}\n`);
  assert.equal(fx.run().code, 0);
  assert.match(sh(`age -d -i ${out} ${join(fx.backups, fx.archives().find((n) => n.endsWith(".age"))!)} | zstd -d | tar -t`), /bin\/tool/);
});

test("verify --storage catches a flipped byte in one copy without the identity", (t) => {
  if (!needTools(t, "age-keygen", "sha256sum")) return;
  const fx = makeFixture(t, "verify-storage");
  assert.equal(fx.run().code, 0);
  assert.equal(fx.run(["run", "--once"]).code, 0);
  const archives = fx.archives().filter((n) => n.endsWith(".age"));
  assert.equal(archives.length, 2);
  for (const a of archives) assert.ok(existsSync(join(fx.backups, `${a}.sha256`)), "each archive has a sidecar");
  assert.match(sh(`cd ${fx.backups} && sha256sum -c *.sha256`), /OK/, "sha256sum reads the sidecars");
  const ok = fx.run(["verify", "--storage"]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /2 intact, 0 damaged/);

  const victim = join(fx.backups, archives[1]!);
  const bytes = readFileSync(victim);
  const middle = Math.floor(bytes.length / 2);
  bytes[middle] = bytes[middle]! ^ 0x01;
  writeFileSync(victim, bytes);
  const bad = fx.run(["verify", "--storage"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, new RegExp(`${archives[1]!.replace(/\./g, "\\.")}: CHECKSUM MISMATCH`));
  assert.match(bad.stdout, /1 intact, 1 damaged/);
  assert.ok(readdirSync(fx.backups).includes(archives[1]!), "verify never removes anything");
});
