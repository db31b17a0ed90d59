import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Decrypter, generateHybridIdentity, identityToRecipient } from "age-encryption";
import { decrypt, encrypt, makeKeyPair, scratch } from "./helpers.js";

const CHUNK = 64 * 1024;

/** Expected ciphertext size: header, nonce, and a 16-byte tag per chunk (at least one). */
function sealedSize(headerSize: number, plaintextSize: number): number {
  return headerSize + 16 + plaintextSize + 16 * Math.max(1, Math.ceil(plaintextSize / CHUNK));
}

describe("encrypt and decrypt round trip", () => {
  test("every size near a chunk boundary, under every write size", async (t) => {
    const key = await makeKeyPair(scratch(t), "k");
    for (const size of [0, 1, 15, 16, 17, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 16, 3 * CHUNK - 1]) {
      const plaintext = randomBytes(size);
      for (const writeSize of [1, 7, 4096, CHUNK, CHUNK + 1, 1 << 20]) {
        if (writeSize === 1 && size > CHUNK + 1) continue; // byte by byte is slow; 7-byte writes cover the rest
        const file = await encrypt([key.recipient], plaintext, writeSize);
        const header = file.indexOf("\n", file.indexOf("\n---") + 1) + 1;
        assert.equal(file.length, sealedSize(header, size), `${size} bytes in ${writeSize}-byte writes: size`);
        for (const readSize of [1, 4096, file.length || 1]) {
          if (readSize === 1 && size > CHUNK + 1) continue;
          const { output, error } = await decrypt(key.identityFile, file, readSize);
          assert.equal(error, undefined, `${size}/${writeSize}/${readSize}: ${error?.message}`);
          assert.ok(output.equals(plaintext), `${size} bytes in ${writeSize}-byte writes, read ${readSize} at a time`);
        }
      }
    }
  });

  test("age-encryption's own decrypter reads the files", async (t) => {
    const key = await makeKeyPair(scratch(t), "k");
    const plaintext = randomBytes(3 * CHUNK + 5);
    const decrypter = new Decrypter();
    decrypter.addIdentity(key.identity);
    const file = await encrypt([key.recipient], plaintext);
    assert.ok(Buffer.from(await decrypter.decrypt(file)).equals(plaintext));
  });

  test("post-quantum hybrid recipients, alone and mixed with X25519", async (t) => {
    const dir = scratch(t);
    const x25519 = await makeKeyPair(dir, "x");
    const pqIdentity = await generateHybridIdentity();
    const pqFile = join(dir, "pq.key");
    writeFileSync(pqFile, `${pqIdentity}\n`);
    const pqRecipient = await identityToRecipient(pqIdentity);
    const plaintext = randomBytes(100_000);
    for (const recipients of [[pqRecipient], [x25519.recipient, pqRecipient]]) {
      const file = await encrypt(recipients, plaintext);
      for (const identityFile of recipients.length === 1 ? [pqFile] : [pqFile, x25519.identityFile]) {
        const { output, error } = await decrypt(identityFile, file);
        assert.equal(error, undefined);
        assert.ok(output.equals(plaintext));
      }
    }
  });

  test("every archive gets a fresh file key and nonce", async (t) => {
    const key = await makeKeyPair(scratch(t), "k");
    const plaintext = Buffer.alloc(1000);
    const [a, b] = [await encrypt([key.recipient], plaintext), await encrypt([key.recipient], plaintext)];
    assert.notDeepEqual(a.subarray(-1016), b.subarray(-1016));
  });
});
