import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateX25519Identity } from "age-encryption";
import { cctvVectors, type Vector } from "./cctv-vectors.js";
import { decrypt, scratch } from "./helpers.js";

/**
 * The C2SP CCTV age vectors (https://c2sp.org/CCTV/age), run three ways: the whole file in one
 * write, 4 KiB writes, and (for files up to BYTEWISE_LIMIT) one byte at a time.
 */
const BYTEWISE_LIMIT = 256 * 1024;

/** What each kind of failure must look like, so one failure is never masked as another. */
const EXPECTED_ERROR: Record<string, RegExp> = {
  "no match": /^no identity matches this archive's recipients/,
  "HMAC failure": /^age header is invalid or corrupt/,
  "header failure": /^(age header is invalid or corrupt|archive is truncated: it (is empty|ends inside the age header|ends before the payload nonce))/,
  "payload failure": /^archive is (corrupt|truncated|corrupt or truncated): /,
};

const all = cctvVectors();
const applicable = all.filter((v) => !v.unsupported);
const skipped = all.filter((v) => v.unsupported);

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

describe("C2SP CCTV age vectors", () => {
  test(`the set is complete: ${applicable.length} applicable, ${skipped.length} skipped (armor, passphrase)`, () => {
    assert.ok(applicable.length >= 80, `only ${applicable.length} applicable vectors`);
    for (const v of skipped) assert.match(v.unsupported!, /^(armored|passphrase)$/, `${v.name} skipped for ${v.unsupported}`);
    for (const expect of ["success", "no match", "HMAC failure", "header failure", "payload failure"]) {
      assert.ok(applicable.some((v) => v.expect === expect), `no applicable '${expect}' vector`);
    }
  });

  const ways = [
    { label: "whole file", chunkSize: (v: Vector) => Math.max(1, v.file.length) },
    { label: "4 KiB writes", chunkSize: () => 4096 },
    { label: "byte by byte", chunkSize: () => 1, only: (v: Vector) => v.file.length <= BYTEWISE_LIMIT },
  ];
  for (const way of ways) {
    test(way.label, async (t) => {
      const dir = scratch(t);
      // A vector without identities (a header that fails to parse) still needs some identity.
      const throwaway = await generateX25519Identity();
      let ran = 0;
      for (const v of applicable) {
        if (way.only && !way.only(v)) continue;
        const identityFile = join(dir, `${v.name}.key`);
        writeFileSync(identityFile, `${(v.identities.length ? v.identities : [throwaway]).join("\n")}\n`);
        const { output, error } = await decrypt(identityFile, v.file, way.chunkSize(v));
        if (v.expect === "success") {
          assert.equal(error, undefined, `${v.name}: ${error?.message}`);
          assert.equal(sha256(output), v.payload, `${v.name}: payload hash`);
        } else {
          assert.ok(error, `${v.name}: expected ${v.expect}, but it decrypted`);
          assert.match(error.message, EXPECTED_ERROR[v.expect]!, `${v.name} (${v.expect})`);
          // Plaintext released before a payload failure must still be the right plaintext.
          if (v.payload) assert.equal(sha256(output), v.payload, `${v.name}: payload released before the failure`);
        }
        ran++;
      }
      t.diagnostic(`${ran} vectors decrypted ${way.label}`);
    });
  }
});
