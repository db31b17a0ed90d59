import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import type { Encryptor } from "@sov/core";
import { decrypt, encryptorFor, needTools, runTransform, scratch } from "./helpers.js";

/** Interoperability with the real age CLI, in both directions. */

const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 5 * 1024 * 1024 + 123];

interface CliKey {
  readonly identityFile: string;
  readonly recipient: string;
}

function ageKeygen(dir: string, name: string): CliKey {
  const identityFile = join(dir, `${name}.key`);
  execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
  return { identityFile, recipient: execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim() };
}

function ageDecrypt(identityFile: string, file: string): Buffer {
  return execFileSync("age", ["-d", "-i", identityFile, file], { maxBuffer: 64 * 1024 * 1024 });
}

async function encryptToFile(encryptor: Encryptor, plaintext: Buffer, file: string, chunkSize?: number): Promise<void> {
  const { output, error } = await runTransform(await encryptor.createEncryptStream(), plaintext, chunkSize);
  assert.equal(error, undefined);
  writeFileSync(file, output);
}

function setUp(t: TestContext) {
  if (!needTools(t, "age", "age-keygen")) return undefined;
  const dir = scratch(t);
  return { dir, alice: ageKeygen(dir, "alice"), bob: ageKeygen(dir, "bob") };
}

describe("age CLI interop", () => {
  test("age -d decrypts what the encryptor writes, at every chunk boundary", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const encryptor = await encryptorFor({ recipients: [env.alice.recipient] });
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      const file = join(env.dir, `out-${size}.age`);
      // Odd write sizes, so chunk boundaries fall inside writes.
      await encryptToFile(encryptor, plaintext, file, 10_007);
      assert.ok(ageDecrypt(env.alice.identityFile, file).equals(plaintext), `${size} bytes`);
    }
  });

  test("the decoder decrypts what age -r writes", async (t) => {
    const env = setUp(t);
    if (!env) return;
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      const file = join(env.dir, `in-${size}.age`);
      execFileSync("age", ["-r", env.alice.recipient, "-o", file], { input: plaintext });
      const { output, error } = await decrypt(env.alice.identityFile, readFileSync(file));
      assert.equal(error, undefined, `${size} bytes: ${error?.message}`);
      assert.ok(output.equals(plaintext), `${size} bytes`);
    }
  });

  test("age -R with two recipients: each identity alone decrypts with the decoder", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const recipientsFile = join(env.dir, "recipients.txt");
    writeFileSync(recipientsFile, `# two keys\n${env.alice.recipient}\n\n${env.bob.recipient}\n`);
    const plaintext = randomBytes(200_000);
    const file = join(env.dir, "two.age");
    execFileSync("age", ["-R", recipientsFile, "-o", file], { input: plaintext });
    for (const key of [env.alice, env.bob]) {
      const { output, error } = await decrypt(key.identityFile, readFileSync(file));
      assert.equal(error, undefined);
      assert.ok(output.equals(plaintext));
    }
  });

  test("recipients_file with two recipients: each identity alone decrypts with age -d", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const recipientsFile = join(env.dir, "recipients.txt");
    writeFileSync(recipientsFile, `${env.alice.recipient}\r\n# bob\r\n${env.bob.recipient}\r\n`);
    const encryptor = await encryptorFor({ recipients_file: recipientsFile });
    assert.match(encryptor.describe()[0]!, /^2 recipients from .*recipients\.txt$/);
    const plaintext = randomBytes(300_000);
    const file = join(env.dir, "two.age");
    await encryptToFile(encryptor, plaintext, file);
    for (const key of [env.alice, env.bob]) assert.ok(ageDecrypt(key.identityFile, file).equals(plaintext));
  });
});
