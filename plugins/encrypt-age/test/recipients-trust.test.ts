import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, ExitCode } from "@sov/core";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import { loadRecipients } from "../src/recipients.js";
import { encryptorFor, needRoot, scratch } from "./helpers.js";

/**
 * Whoever can write the recipients file can add a key of their own and read every later
 * archive, so as root it must be as trustworthy as a hook: owned by root, writable by nobody
 * else, all the way up.
 */

function refusedAs(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.match(err.message, pattern);
    return true;
  };
}

describe("the recipients file is trusted input", () => {
  test("as root: a group-writable file, or one owned by another user, is refused before it is parsed", async (t) => {
    if (!needRoot(t)) return;
    const dir = scratch(t);
    const recipient = await identityToRecipient(await generateX25519Identity());
    const good = join(dir, "good.txt");
    writeFileSync(good, `${recipient}\n`, { mode: 0o644 });
    assert.deepEqual((await loadRecipients({ recipients_file: good })).recipients, [recipient]);

    // Content that would fail to parse: the trust error must come first, nothing is read.
    const groupWritable = join(dir, "group-writable.txt");
    writeFileSync(groupWritable, "not a recipient\n");
    chmodSync(groupWritable, 0o664);
    await assert.rejects(
      loadRecipients({ recipients_file: groupWritable }),
      refusedAs(/^recipients file: file .*group-writable\.txt is writable by group or others \(mode 664\); chmod go-w it$/),
    );

    const foreign = join(dir, "foreign.txt");
    writeFileSync(foreign, "not a recipient\n", { mode: 0o644 });
    chownSync(foreign, 65534, 65534);
    await assert.rejects(loadRecipients({ recipients_file: foreign }), refusedAs(/^recipients file: file .*foreign\.txt is owned by uid 65534, not root$/));

    // Through the plugin's tap, the way a run meets it: exit 2, with the plugin named.
    await assert.rejects(encryptorFor({ recipients_file: foreign }), refusedAs(/^@sov\/encrypt-age: recipients file: .*owned by uid 65534/));
  });

  test("as root: a writable parent directory is refused too", async (t) => {
    if (!needRoot(t)) return;
    const dir = scratch(t);
    const open = join(dir, "open");
    mkdirSync(open);
    chmodSync(open, 0o777);
    const file = join(open, "recipients.txt");
    writeFileSync(file, `${await identityToRecipient(await generateX25519Identity())}\n`, { mode: 0o644 });
    await assert.rejects(loadRecipients({ recipients_file: file }), refusedAs(/^recipients file: directory .*\/open is writable by group or others \(mode 777\)/));
  });

  test("a symlink is refused: the config must name the real file", async (t) => {
    const dir = scratch(t);
    const real = join(dir, "real.txt");
    writeFileSync(real, `${await identityToRecipient(await generateX25519Identity())}\n`, { mode: 0o644 });
    const link = join(dir, "link.txt");
    symlinkSync(real, link);
    await assert.rejects(loadRecipients({ recipients_file: link }), refusedAs(/^recipients file: .*link\.txt is a symlink; point the config at the real file$/));
  });
});
