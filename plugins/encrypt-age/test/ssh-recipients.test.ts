import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { ConfigError, ExitCode } from "@sov/core";
import { readIdentities } from "../src/identities.js";
import { loadRecipients, parseRecipients } from "../src/recipients.js";
import { decrypt, encryptorFor, makeKeyPair, needTools, runTransform, scratch } from "./helpers.js";

/** ssh-ed25519 and ssh-rsa recipients, judged by the real age CLI. */

const SIZES = [0, 1, 65536, 65537, 300_000];

interface SshKey {
  /** The private key file, for `age -d -i`. */
  readonly privateFile: string;
  /** The `.pub` line: `ssh-... AAAA... comment`. */
  readonly publicLine: string;
}

function sshKeygen(dir: string, name: string, args: string[], passphrase = ""): SshKey {
  const privateFile = join(dir, name);
  execFileSync("ssh-keygen", ["-q", ...args, "-N", passphrase, "-C", `${name}@test`, "-f", privateFile], { stdio: "ignore" });
  return { privateFile, publicLine: readFileSync(`${privateFile}.pub`, "utf8").trim() };
}

function ageDecrypt(identityFile: string, file: string): Buffer {
  return execFileSync("age", ["-d", "-i", identityFile, file], { maxBuffer: 64 * 1024 * 1024 });
}

function setUp(t: TestContext) {
  if (!needTools(t, "age", "ssh-keygen")) return undefined;
  const dir = scratch(t);
  return {
    dir,
    ed25519: sshKeygen(dir, "id_ed25519", ["-t", "ed25519"]),
    rsa: sshKeygen(dir, "id_rsa", ["-t", "rsa", "-b", "3072"]),
  };
}

async function encryptToFile(options: Record<string, unknown>, plaintext: Buffer, file: string): Promise<void> {
  const { output, error } = await runTransform(await (await encryptorFor(options)).createEncryptStream(), plaintext, 10_007);
  assert.equal(error, undefined);
  writeFileSync(file, output);
}

async function decodeWith(identityFile: string, file: string): Promise<Buffer> {
  const { output, error } = await decrypt(identityFile, readFileSync(file));
  assert.equal(error, undefined, error?.message);
  return output;
}

/** The stanza lines of an age file's header. */
function stanzaLines(file: string): string[] {
  const text = readFileSync(file).subarray(0, 4096).toString("latin1");
  return text.slice(0, text.indexOf("\n---")).split("\n").filter((line) => line.startsWith("-> "));
}

/** age's tag: unpadded base64 of the first 4 bytes of SHA-256 of the key blob. */
function expectedTag(publicLine: string): string {
  const blob = Buffer.from(publicLine.split(" ")[1]!, "base64");
  return createHash("sha256").update(blob).digest().subarray(0, 4).toString("base64").replace(/=+$/, "");
}

function sshFingerprintByKeygen(publicFile: string): string {
  return execFileSync("ssh-keygen", ["-l", "-f", publicFile], { encoding: "utf8" }).split(" ")[1]!;
}

describe("ssh recipients with the age CLI", () => {
  for (const kind of ["ed25519", "rsa"] as const) {
    test(`age -d -i id_${kind} decrypts what the encryptor writes to an ssh-${kind} recipient; so does the decoder`, async (t) => {
      const env = setUp(t);
      if (!env) return;
      const key = env[kind];
      for (const size of SIZES) {
        const plaintext = randomBytes(size);
        const file = join(env.dir, `${kind}-${size}.age`);
        await encryptToFile({ recipients: [key.publicLine] }, plaintext, file);
        assert.ok(ageDecrypt(key.privateFile, file).equals(plaintext), `age -d, ${size} bytes`);
        assert.ok((await decodeWith(key.privateFile, file)).equals(plaintext), `decoder, ${size} bytes`);
      }
    });
  }

  test("a recipients file mixing ssh-ed25519, ssh-rsa and age1 lines: each key alone decrypts", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const age = await makeKeyPair(env.dir, "age");
    const recipientsFile = join(env.dir, "recipients.txt");
    writeFileSync(recipientsFile, `# laptop\n${env.ed25519.publicLine}\r\n\n# old server key\n  ${env.rsa.publicLine}\n${age.recipient}\n`);
    const plaintext = randomBytes(200_000);
    const file = join(env.dir, "mixed.age");
    await encryptToFile({ recipients_file: recipientsFile }, plaintext, file);
    const stanzas = stanzaLines(file).map((line) => line.split(" "));
    assert.deepEqual(stanzas.map((args) => args[1]), ["ssh-ed25519", "ssh-rsa", "X25519"]);
    assert.equal(stanzas[0]![2], expectedTag(env.ed25519.publicLine));
    assert.equal(stanzas[1]![2], expectedTag(env.rsa.publicLine));
    for (const identityFile of [env.ed25519.privateFile, env.rsa.privateFile, age.identityFile]) {
      assert.ok(ageDecrypt(identityFile, file).equals(plaintext), `age -d -i ${identityFile}`);
      assert.ok((await decodeWith(identityFile, file)).equals(plaintext), `decoder with ${identityFile}`);
    }
  });

  test("describe() shows ssh recipients by the fingerprint ssh-keygen -l prints", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const lines = (await encryptorFor({ recipients: [env.ed25519.publicLine, env.rsa.publicLine] })).describe();
    assert.equal(lines[0], "2 recipients from inline");
    assert.equal(lines[1], `  ssh-ed25519 ${sshFingerprintByKeygen(`${env.ed25519.privateFile}.pub`)} id_ed25519@test`);
    assert.equal(lines[2], `  ssh-rsa ${sshFingerprintByKeygen(`${env.rsa.privateFile}.pub`)} id_rsa@test`);
  });

  test("the stanzas carry the same tag age writes, and a fresh ephemeral share each time", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const fromAge = join(env.dir, "from-age.age");
    execFileSync("age", ["-r", env.ed25519.publicLine, "-r", env.rsa.publicLine, "-o", fromAge], { input: "x" });
    const ours = [join(env.dir, "a.age"), join(env.dir, "b.age")];
    for (const file of ours) await encryptToFile({ recipients: [env.ed25519.publicLine, env.rsa.publicLine] }, Buffer.from("x"), file);
    const args = (file: string) => stanzaLines(file).map((line) => line.split(" "));
    const [ageEd, ageRsa] = args(fromAge);
    const [aEd, aRsa] = args(ours[0]!);
    const [bEd] = args(ours[1]!);
    assert.deepEqual(aEd!.slice(0, 3), ageEd!.slice(0, 3));
    assert.deepEqual(aRsa, ageRsa);
    assert.equal(aEd!.length, 4);
    assert.match(aEd![3]!, /^[A-Za-z0-9+/]{43}$/, "the ephemeral share is 32 bytes of unpadded base64");
    assert.notEqual(aEd![3], bEd![3]);
  });

  test("the decoder reads what age -R writes to ssh keys, OpenSSH and PEM formats alike", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const pemRsa = sshKeygen(env.dir, "id_rsa_pem", ["-t", "rsa", "-b", "2048", "-m", "PEM"]);
    assert.match(readFileSync(pemRsa.privateFile, "utf8"), /^-----BEGIN RSA PRIVATE KEY-----/);
    for (const key of [env.ed25519, env.rsa, pemRsa]) {
      const plaintext = randomBytes(70_000);
      const file = join(env.dir, "from-age.age");
      execFileSync("age", ["-R", `${key.privateFile}.pub`, "-o", file], { input: plaintext });
      assert.ok((await decodeWith(key.privateFile, file)).equals(plaintext), key.privateFile);
    }
  });

  test("a 1024-bit ssh-rsa key from ssh-keygen in the recipients file is refused, naming the line", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const weak = sshKeygen(env.dir, "id_rsa_1024", ["-t", "rsa", "-b", "1024"]);
    const recipientsFile = join(env.dir, "recipients.txt");
    writeFileSync(recipientsFile, `${env.ed25519.publicLine}\n# old key\n${weak.publicLine}\n`);
    await assert.rejects(
      encryptorFor({ recipients_file: recipientsFile }),
      isConfigError(/^@sov\/encrypt-age: .*recipients\.txt line 3: the ssh-rsa key has 1024 bits, fewer than the 2048 required/),
    );
  });

  test("decoder identity errors: the wrong ssh key, a passphrase, a public key, an ecdsa key", async (t) => {
    const env = setUp(t);
    if (!env) return;
    const file = join(env.dir, "to-rsa.age");
    await encryptToFile({ recipients: [env.rsa.publicLine] }, randomBytes(1000), file);
    const { error } = await decrypt(env.ed25519.privateFile, readFileSync(file));
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /^no identity matches this archive's recipients \(tried 1 identity from .*id_ed25519\)/);

    const locked = sshKeygen(env.dir, "id_locked", ["-t", "ed25519"], "correct horse");
    await assert.rejects(
      readIdentities(locked.privateFile),
      isConfigError(new RegExp(`id_locked is a passphrase-protected ssh key.*use the age CLI: age -d -i ${locked.privateFile} FILE$`)),
    );
    writeFileSync(join(env.dir, "pub.txt"), `${env.ed25519.publicLine}\n`);
    await assert.rejects(readIdentities(join(env.dir, "pub.txt")), isConfigError(/pub\.txt line 1 is an ssh public key; give the private key file/));
    const ecdsa = sshKeygen(env.dir, "id_ecdsa", ["-t", "ecdsa"]);
    await assert.rejects(readIdentities(ecdsa.privateFile), isConfigError(/id_ecdsa is not a usable ssh private key: a ecdsa-sha2-nistp256 key cannot be an age identity/));
  });
});

function isConfigError(pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.match(err.message, pattern);
    return true;
  };
}

/** SSH wire encoding, built independently of the plugin's, for keys made by node:crypto. */
function sshString(value: Buffer | string): Buffer {
  const bytes = typeof value === "string" ? Buffer.from(value) : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function sshMpint(base64url: string): Buffer {
  const bytes = Buffer.from(base64url, "base64url");
  return sshString(bytes[0]! & 0x80 ? Buffer.concat([Buffer.alloc(1), bytes]) : bytes);
}

function ed25519Blob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString("ssh-ed25519"), sshString(publicKey)]);
}

function rsaLine(key: KeyObject): string {
  const { n, e } = key.export({ format: "jwk" });
  return `ssh-rsa ${Buffer.concat([sshString("ssh-rsa"), sshMpint(e!), sshMpint(n!)]).toString("base64")} rsa@test`;
}

describe("ssh recipient lines", () => {
  const ed25519Public = Buffer.from(generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x!, "base64url");
  const good = `ssh-ed25519 ${ed25519Blob(ed25519Public).toString("base64")} me@host`;
  const withoutPadding = (blob: Buffer) => blob.toString("base64").replace(/=+$/, "");

  test("ssh-ed25519 and ssh-rsa lines are accepted, with or without a comment", () => {
    const rsa = rsaLine(generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey);
    const bare = good.split(" ").slice(0, 2).join(" ");
    assert.deepEqual(parseRecipients(`# keys\n${good}\n${bare}\n${rsa}\n`, "/r"), [good, bare, rsa]);
  });

  const bad: [string, string, RegExp][] = [
    ["bad base64", "ssh-ed25519 AAAA!!!! me@host", /the ssh-ed25519 key is not valid base64/],
    // A 50-byte blob (a 31-byte key) needs one '=' of padding.
    ["base64 without its padding", `ssh-ed25519 ${withoutPadding(ed25519Blob(ed25519Public.subarray(1)))}`, /the ssh-ed25519 key is not valid base64/],
    ["no key at all", "ssh-ed25519", /the ssh-ed25519 line has no key after the type/],
    ["an ed25519 key labelled ssh-rsa", `ssh-rsa ${ed25519Blob(ed25519Public).toString("base64")}`, /the line says ssh-rsa, but the key inside is ssh-ed25519/],
    ["a truncated key", `ssh-ed25519 ${ed25519Blob(ed25519Public).subarray(0, 40).toString("base64")}`, /the ssh-ed25519 key is truncated/],
    ["trailing bytes", `ssh-ed25519 ${Buffer.concat([ed25519Blob(ed25519Public), Buffer.alloc(3)]).toString("base64")}`, /the ssh-ed25519 key has 3 unexpected trailing bytes/],
    ["a 31-byte key", `ssh-ed25519 ${ed25519Blob(ed25519Public.subarray(1)).toString("base64")}`, /the ssh-ed25519 key is 31 bytes long, not 32/],
    ["not a curve point", `ssh-ed25519 ${ed25519Blob(Buffer.alloc(32, 0xff)).toString("base64")}`, /the ssh-ed25519 key is not a point on the curve/],
    ["a low-order point", `ssh-ed25519 ${ed25519Blob(Buffer.from([1, ...Buffer.alloc(31)])).toString("base64")}`, /the ssh-ed25519 key is a low-order point/],
    ["a 1024-bit RSA key", rsaLine(generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey), /the ssh-rsa key has 1024 bits, fewer than the 2048 required/],
    ["an ecdsa key", "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY= me@host", /ecdsa-sha2-nistp256 keys cannot be age recipients; age supports ssh-ed25519 and ssh-rsa/],
    ["a security-key ed25519 key", "sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t", /sk-ssh-ed25519@openssh\.com keys cannot be age recipients/],
    ["a pasted private key", "-----BEGIN OPENSSH PRIVATE KEY-----", /this is the start of a private key, not a recipient; the host must never hold it/],
    ["a DSA key", "ssh-dss AAAAB3NzaC1kc3M=", /ssh-dss keys cannot be age recipients/],
  ];
  for (const [what, line, pattern] of bad) {
    test(`${what}: a ConfigError naming the file and line, or the inline index`, async () => {
      assert.throws(() => parseRecipients(`# keys\n${good}\n${line}\n`, "/etc/r.txt"), isConfigError(new RegExp(`^/etc/r\\.txt line 3: ${pattern.source}`)));
      await assert.rejects(loadRecipients({ recipients: [good, line] }), isConfigError(new RegExp(`^recipients\\[1\\]: ${pattern.source}`)));
    });
  }
});
