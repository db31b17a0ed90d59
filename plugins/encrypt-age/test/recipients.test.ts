import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, createStageHooks, ExitCode, silentLogger } from "@sov/core";
import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";
import plugin from "../src/index.js";
import { readIdentities } from "../src/identities.js";
import { loadRecipients, parseRecipients } from "../src/recipients.js";
import { scratch } from "./helpers.js";

async function newRecipient(): Promise<string> {
  return identityToRecipient(await generateX25519Identity());
}

function isConfigError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.match(err.message, pattern);
    return true;
  };
}

describe("recipients", () => {
  test("a recipients file: comments, blank lines, CRLF and stray spaces are ignored", async () => {
    const [a, b] = [await newRecipient(), await newRecipient()];
    const text = `# backup keys\r\n\r\n${a}\r\n   \r\n  # offline laptop\r\n  ${b}  \r\n`;
    assert.deepEqual(parseRecipients(text, "/etc/r.txt"), [a, b]);
  });

  test("the file's recipients come first, then the inline ones", async (t) => {
    const [a, b] = [await newRecipient(), await newRecipient()];
    const file = join(scratch(t), "recipients.txt");
    writeFileSync(file, `${a}\n`);
    const set = await loadRecipients({ recipients_file: file, recipients: [b] });
    assert.deepEqual(set.recipients, [a, b]);
    assert.deepEqual(set.sources, [file, "inline"]);
  });

  test("a post-quantum hybrid recipient is accepted", async () => {
    const pq = await identityToRecipient(await generateHybridIdentity());
    assert.deepEqual(parseRecipients(`${pq}\n`, "/r"), [pq]);
  });

  test("an invalid line is a ConfigError naming the file and line", async () => {
    const a = await newRecipient();
    assert.throws(() => parseRecipients(`# keys\n${a}\nage1notakey\n`, "/etc/r.txt"), isConfigError(/^\/etc\/r\.txt line 3: not a valid age recipient 'age1notakey'/));
    // A changed last character breaks the bech32 checksum (x is swapped for y if it is already x).
    assert.throws(() => parseRecipients(`${a.slice(0, -1)}${a.endsWith("x") ? "y" : "x"}\n`, "/r"), isConfigError(/^\/r line 1: not a valid age recipient/));
  });

  test("a line that is not key-shaped is not repeated in the error", () => {
    assert.throws(
      () => parseRecipients("hunter2-my-password\n", "/r"),
      (err: Error) => isConfigError(/line 1: not a valid age recipient \(/)(err) && !err.message.includes("hunter2"),
    );
  });

  test("a private identity is refused without echoing it", async () => {
    const identity = await generateX25519Identity();
    for (const line of [identity, identity.toLowerCase()]) {
      assert.throws(
        () => parseRecipients(`${line}\n`, "/etc/r.txt"),
        (err: Error) => {
          isConfigError(/^\/etc\/r\.txt line 1: this is a private identity, not a recipient; the host must never hold it/)(err);
          assert.ok(!err.message.toUpperCase().includes(identity.slice("AGE-SECRET-KEY-1".length, 40)), "the key leaked into the message");
          return true;
        },
      );
    }
  });

  test("an unreadable or relative recipients_file, or no recipients at all, is a ConfigError", async (t) => {
    const dir = scratch(t);
    await assert.rejects(loadRecipients({ recipients_file: join(dir, "missing.txt") }), isConfigError(/^recipients file: .*missing\.txt does not exist or cannot be read \(ENOENT\)/));
    await assert.rejects(loadRecipients({ recipients_file: "recipients.txt" }), isConfigError(/must be an absolute path/));
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "# nothing here yet\n\n");
    await assert.rejects(loadRecipients({ recipients_file: empty }), isConfigError(/empty\.txt has no recipient lines.*at least one age recipient/));
    await assert.rejects(loadRecipients({ recipients: [] }), isConfigError(/no recipients are configured/));
  });

  test("an invalid inline recipient names its index", async () => {
    await assert.rejects(loadRecipients({ recipients: [await newRecipient(), "age1bad"] }), isConfigError(/^recipients\[1\]: not a valid age recipient/));
  });

  test("apply() only taps: a missing file surfaces when the encrypt hook runs, as a ConfigError", async () => {
    const hooks = createStageHooks();
    plugin.apply(hooks, { recipients_file: "/nonexistent/recipients.txt" }, { instance: plugin.name, host: "h", configDir: "/", log: silentLogger() });
    const run = { host: "h", startedAt: new Date(), dryRun: false, signal: new AbortController().signal };
    await assert.rejects(hooks.encrypt.promise(run), isConfigError(/@sov\/encrypt-age: recipients file: \/nonexistent\/recipients\.txt does not exist/));
  });

  test("describe() lists every recipient, shortening hybrid ones", async () => {
    const [pq1, pq2] = [await identityToRecipient(await generateHybridIdentity()), await identityToRecipient(await generateHybridIdentity())];
    const hooks = createStageHooks();
    plugin.apply(hooks, { recipients: [pq1, pq2] }, { instance: plugin.name, host: "h", configDir: "/", log: silentLogger() });
    const encryptor = await hooks.encrypt.promise({ host: "h", startedAt: new Date(), dryRun: false, signal: new AbortController().signal });
    const lines = encryptor!.describe();
    assert.equal(lines[0], "2 recipients from inline");
    assert.match(lines[1]!, /^ {2}age1pq1\S{17}\.\.\.\S{12}$/);
    assert.match(lines[2]!, /^ {2}age1pq1\S{17}\.\.\.\S{12}$/);
    assert.equal(encryptor!.extension, "age");
  });

  test("post-quantum and classic recipients together are refused, as age 1.3 refuses them", async (t) => {
    const x = await newRecipient();
    const pq = await identityToRecipient(await generateHybridIdentity());
    const mixed = /^the recipients \(from .+\) mix post-quantum \(age1pq1\S+\.\.\.\S+\) and classic \(age1\S+\) keys: .* List only age1pq1\.\.\. recipients, or only classic ones/;
    await assert.rejects(loadRecipients({ recipients: [x, pq] }), isConfigError(mixed));
    const file = join(scratch(t), "recipients.txt");
    writeFileSync(file, `${pq}\n`);
    await assert.rejects(loadRecipients({ recipients_file: file, recipients: [x] }), isConfigError(new RegExp(`^the recipients \\(from ${file} and inline\\) mix`)));
  });
});

describe("identity file", () => {
  test("comments, blank lines and CRLF are ignored; hybrid identities are read", async (t) => {
    const [x, pq] = [await generateX25519Identity(), await generateHybridIdentity()];
    const file = join(scratch(t), "key.txt");
    writeFileSync(file, `# created: today\r\n# public key: age1...\r\n${x}\r\n\r\n${pq}\r\n`);
    assert.deepEqual(await readIdentities(file), [x, pq]);
  });

  test("problems are ConfigErrors that never include the file's contents", async (t) => {
    const dir = scratch(t);
    const identity = await generateX25519Identity();
    const broken = join(dir, "broken.txt");
    writeFileSync(broken, `${identity}\n${identity.slice(0, -2)}QQ\n`);
    await assert.rejects(readIdentities(broken), (err: Error) => {
      isConfigError(/broken\.txt line 2 is not a valid age identity/)(err);
      assert.ok(!err.message.includes(identity.slice(20, 40)), "the key leaked into the message");
      return true;
    });
    await assert.rejects(readIdentities(join(dir, "missing.txt")), isConfigError(/cannot read the age identity file .*missing\.txt \(ENOENT\)/));
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "# nothing\n");
    await assert.rejects(readIdentities(empty), isConfigError(/has no identities/));
    const ssh = join(dir, "id_ed25519");
    writeFileSync(ssh, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n");
    await assert.rejects(readIdentities(ssh), (err: Error) => isConfigError(/id_ed25519 is not a usable ssh private key: the OpenSSH private key is truncated/)(err) && !err.message.includes("b3Blbn"));
  });
});
