import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, ExitCode, RunError, silentLogger } from "@sov/core";
import { createDecryptStream } from "../src/index.js";
import { decrypt, encrypt, makeKeyPair, scratch, type KeyPair } from "./helpers.js";

const CHUNK = 64 * 1024;
const SEALED = CHUNK + 16;

/** Offset of the payload nonce: just past the header's `--- <mac>\n` line. */
function payloadStart(file: Buffer): number {
  return file.indexOf("\n", file.indexOf("\n---") + 1) + 1;
}

function flipped(file: Buffer, offset: number): Buffer {
  const copy = Buffer.from(file);
  copy[offset]! ^= 0x01;
  return copy;
}

async function expectFailure(key: KeyPair, file: Buffer, kind: typeof RunError | typeof ConfigError, pattern: RegExp): Promise<void> {
  for (const chunkSize of [file.length || 1, 4096]) {
    const { error } = await decrypt(key.identityFile, file, chunkSize);
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.match(error.message, pattern);
  }
}

describe("decoder errors", () => {
  // Three full chunks and a short one.
  const plaintext = randomBytes(3 * CHUNK + 1000);

  test("each failure has its own message", async (t) => {
    const dir = scratch(t);
    const alice = await makeKeyPair(dir, "alice");
    const mallory = await makeKeyPair(dir, "mallory");
    const file = await encrypt([alice.recipient], plaintext);
    const start = payloadStart(file);
    assert.equal(file.length, start + 16 + 3 * SEALED + 1000 + 16, "layout");

    await t.test("intact", async () => {
      const { output, error } = await decrypt(alice.identityFile, file);
      assert.equal(error, undefined);
      assert.ok(output.equals(plaintext));
    });
    await t.test("truncated at a chunk boundary", () =>
      expectFailure(alice, file.subarray(0, start + 16 + 2 * SEALED), RunError, /^archive is truncated: it ends after chunk 2, which is not marked last$/));
    await t.test("truncated inside a chunk", () =>
      expectFailure(alice, file.subarray(0, start + 16 + SEALED + 500), RunError, /^archive is corrupt or truncated: chunk 2, the last one, failed authentication$/));
    await t.test("truncated inside the nonce", () =>
      expectFailure(alice, file.subarray(0, start + 7), RunError, /^archive is truncated: it ends before the payload nonce$/));
    await t.test("truncated inside the header", () =>
      expectFailure(alice, file.subarray(0, start - 5), RunError, /^archive is truncated: it ends inside the age header/));
    await t.test("one flipped byte in the payload", () =>
      expectFailure(alice, flipped(file, start + 16 + SEALED + 1234), RunError, /^archive is corrupt: chunk 2 failed authentication$/));
    await t.test("one flipped byte in the header MAC", () =>
      expectFailure(alice, flipped(file, start - 3), RunError, /^age header is invalid or corrupt/));
    await t.test("one flipped byte in the version line", () =>
      expectFailure(alice, flipped(file, 3), RunError, /^age header is invalid or corrupt: the file does not start with the age-encryption\.org\/v1 version line$/));
    await t.test("data after the final chunk", async () => {
      const full = await encrypt([alice.recipient], randomBytes(2 * CHUNK));
      await expectFailure(alice, Buffer.concat([full, Buffer.from("x")]), RunError, /^archive is corrupt: data follows the final chunk \(2\)$/);
    });
    await t.test("the wrong identity", () =>
      expectFailure(mallory, file, ConfigError, /^no identity matches this archive's recipients \(tried 1 identity from .*mallory\.key\); is it the right key file\?$/));
    await t.test("an ASCII-armored file", () =>
      expectFailure(alice, Buffer.from("-----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+\n"), RunError, /^archive is ASCII-armored/));
    await t.test("a header with no MAC line within the size cap", () =>
      expectFailure(alice, Buffer.concat([Buffer.from("age-encryption.org/v1\n"), Buffer.alloc(70_000, "A")]), RunError, /^age header is invalid or corrupt: no MAC line in the first 65536 bytes$/));
  });

  test("no identity file given, or a missing one, fails before any byte is read, with exit code 2", async (t) => {
    await assert.rejects(createDecryptStream({ log: silentLogger() }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^decrypting needs an age identity file, and none was given$/);
      return true;
    });
    const missing = join(scratch(t), "nope.key");
    await assert.rejects(decrypt(missing, Buffer.alloc(0)), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.exitCode, ExitCode.usage);
      assert.match(err.message, /^cannot read the age identity file .*nope\.key \(ENOENT\)$/);
      return true;
    });
  });
});
