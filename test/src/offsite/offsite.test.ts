// End to end, issue 12's "done when": one `sov run` with a v2 config writing a local directory,
// an S3 bucket on a real Ceph RGW and an rclone remote; the three archives are byte-identical,
// and `sov restore --latest` from the S3 destination alone restores the source tree.
//
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CreateBucketCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { needS3, startTcpRelay, type S3TestServer } from "@sov/core/testing";
import { needRoot, needTools, sov, sovSpawn } from "../helpers.js";
import { makeFixture } from "../run/fixture.js";
import { snapshotTree } from "../tree.js";

/** The S3 keys in a root-owned 0600 shared-credentials file, as the README tells operators to. */
function writeCredentials(dir: string, server: S3TestServer): string {
  const file = join(dir, "etc", "s3-credentials");
  writeFileSync(file, `[default]\naws_access_key_id = ${server.accessKey}\naws_secret_access_key = ${server.secretKey}\n`, { mode: 0o600 });
  return file;
}

/** The `offsite` destination's YAML list item, with `extra` option lines. */
function s3Destination(server: S3TestServer, bucket: string, credentials: string, extra: string[] = []): string {
  const options = [`endpoint: ${server.endpoint}`, `region: ${server.region}`, `bucket: ${bucket}`, "force_path_style: true", `credentials_file: ${credentials}`, ...extra];
  return `  - name: offsite\n    plugin: s3\n${options.map((line) => `    ${line}\n`).join("")}`;
}

test("local + s3 (Ceph) + rclone from one run: byte-identical archives, restore from s3 alone", { timeout: 120_000 }, async (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar", "rclone") || !needRoot(t)) return;
  const server = needS3(t);
  if (!server) return;
  const fx = makeFixture(t, "offsite");
  // rclone talks to the same Ceph to make the bucket and read back what sov wrote.
  const rcloneEnv = {
    ...process.env,
    AWS_CA_BUNDLE: "", // rclone's S3 backend refuses a custom CA bundle with its own transport
    RCLONE_CONFIG_CEPH_TYPE: "s3",
    RCLONE_CONFIG_CEPH_PROVIDER: "Ceph",
    RCLONE_CONFIG_CEPH_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: server.accessKey,
    RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: server.secretKey,
  };
  const rclone = (...args: string[]) => execFileSync("rclone", ["--config", "/dev/null", ...args], { env: rcloneEnv, maxBuffer: 1 << 30 });
  const bucket = `sov-e2e-${Math.random().toString(36).slice(2, 10)}`;
  rclone("mkdir", `ceph:${bucket}`);

  // 32 MiB that does not compress: the archive is several frames, and a partial restore below
  // must fetch only a few of them
  mkdirSync(join(fx.data, "bulk"));
  for (let i = 0; i < 4; i++) writeFileSync(join(fx.data, "bulk", `blob${i}.bin`), randomBytes(8 * 1024 * 1024));
  const credentials = writeCredentials(fx.dir, server);
  const cloud = join(fx.dir, "cloud");
  mkdirSync(cloud);
  const s3Block = s3Destination(server, bucket, credentials);
  fx.writeV2Config(`compress: { plugin: zstd }
destinations:
  - { name: local, plugin: local, path: ${fx.backups} }
${s3Block}  - { name: cloud, plugin: rclone, remote: ":local:${cloud}" }
`);
  const res = fx.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.ok(!(res.stdout + res.stderr).includes(server.secretKey), "the secret key is never printed");
  const [archive, ...more] = fx.archives();
  assert.ok(archive && more.length === 0, fx.archives().join());
  const local = readFileSync(join(fx.backups, archive));
  assert.ok(rclone("cat", `ceph:${bucket}/testhost/${archive}`).equals(local), "s3 copy byte-identical");
  assert.ok(readFileSync(join(cloud, archive)).equals(local), "rclone copy byte-identical");

  // Restore with a config that knows only the S3 destination: nothing local is read.
  const s3Only = join(fx.dir, "etc", "s3-only.yaml");
  writeFileSync(s3Only, `version: 2
host: testhost
source: { plugin: fs, paths: [${fx.data}] }
encrypt: { plugin: age, recipients_file: ${fx.recipientsFile} }
destinations:
${s3Block}`);
  const target = join(fx.dir, "restored");
  const restored = sov(["restore", "--latest", target, "--config", s3Only, "--identity", fx.identity], fx.env);
  assert.equal(restored.code, 0, restored.stderr + restored.stdout);
  const expected = snapshotTree(fx.data);
  assert.deepEqual(snapshotTree(join(target, fx.data.slice(1))), expected);

  // One file back through the archive's index, with ranged GETs: a few MiB of the archive.
  const one = join(fx.dir, "one-file");
  const partial = sov(["restore", "--latest", one, "--path", `${fx.data.slice(1)}/etc/app.conf`, "--config", s3Only, "--identity", fx.identity], fx.env);
  assert.equal(partial.code, 0, partial.stderr + partial.stdout);
  assert.match(partial.stdout, /the archive's index holds 1 of its \d+ entries/);
  const read = Number(/read .* \((\d+) bytes\) of the/.exec(partial.stdout)?.[1]);
  assert.ok(local.length > 32 * 1024 * 1024 && read < 16 * 1024 * 1024, `read ${read} bytes of a ${local.length}-byte archive from S3`);
  assert.equal(readFileSync(join(one, fx.data.slice(1), "etc/app.conf"), "utf8"), readFileSync(join(fx.data, "etc/app.conf"), "utf8"));
});

test("a fleet bucket: two hosts under their default prefixes; --list --host and --latest --host read the other host's", { timeout: 120_000 }, async (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar") || !needRoot(t)) return;
  const server = needS3(t);
  if (!server) return;
  const fx = makeFixture(t, "offsite-fleet");
  const bucket = `sov-e2e-fleet-${Math.random().toString(36).slice(2, 10)}`;
  await s3Client(server).send(new CreateBucketCommand({ Bucket: bucket }));
  const credentials = writeCredentials(fx.dir, server);
  const block = s3Destination(server, bucket, credentials);
  fx.writeV2Config(`compress: { plugin: zstd }\ndestinations:\n${block}`);
  const mine = fx.run(["run"]);
  assert.equal(mine.code, 0, mine.stderr + mine.stdout);
  // the other host: its own config and data, the same bucket, its own default prefix "db1/"
  const dbData = join(fx.dir, "db1-data");
  mkdirSync(dbData);
  writeFileSync(join(dbData, "dump.sql"), "CREATE TABLE t (x int);\n");
  const dbConfig = join(fx.dir, "etc", "db1.yaml");
  writeFileSync(dbConfig, `version: 2\nhost: db1\nsource: { plugin: fs, paths: [${dbData}] }\nencrypt: { plugin: age, recipients_file: ${fx.recipientsFile} }\ncompress: { plugin: zstd }\ndestinations:\n${block}`);
  const theirs = fx.run(["run", "--config", dbConfig]);
  assert.equal(theirs.code, 0, theirs.stderr + theirs.stdout);

  const rows = (args: string[]) => {
    const r = fx.run(["restore", "--list", ...args]);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    return r.stdout.split("\n").filter((l) => l.includes(".tar.zst.age"));
  };
  const own = rows([]);
  assert.equal(own.length, 1, own.join("\n"));
  assert.match(own[0]!, /sovereign-backup-testhost-/);
  const other = rows(["--host", "db1"]);
  assert.equal(other.length, 1, other.join("\n"));
  assert.match(other[0]!, /s3:\/\/.*\/db1\/sovereign-backup-db1-/);

  const target = join(fx.dir, "db1-restored");
  const restored = fx.run(["restore", "--latest", "--host", "db1", target], { SOVEREIGN_BACKUP_IDENTITY: fx.identity });
  assert.equal(restored.code, 0, restored.stderr + restored.stdout);
  assert.equal(readFileSync(join(target, dbData.slice(1), "dump.sql"), "utf8"), "CREATE TABLE t (x int);\n");
});

function s3Client(server: S3TestServer): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
  });
}

test("object_lock: an archive still locked survives keep_last: 1, and --dry-run says why", { timeout: 120_000 }, async (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar") || !needRoot(t)) return;
  const server = needS3(t);
  if (!server) return;
  const fx = makeFixture(t, "offsite-lock");
  const client = s3Client(server);
  const bucket = `sov-e2e-lock-${Math.random().toString(36).slice(2, 10)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
  const credentials = writeCredentials(fx.dir, server);
  fx.writeV2Config(`compress: { plugin: zstd }
destinations:
${s3Destination(server, bucket, credentials, ["object_lock: { mode: compliance, days: 1 }", "retention: { keep_last: 1 }"])}`);
  const archives = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "testhost/" }))).Contents ?? []).map((o) => o.Key!).filter((k) => k.endsWith(".age")).sort();
  const first = fx.run(["run"]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the next archive name is a second later
  const second = fx.run(["run"]);
  assert.equal(second.code, 0, second.stderr + second.stdout);
  assert.equal((await archives()).length, 2, "keep_last: 1 did not remove the locked archive");
  const dryRun = fx.run(["run", "--dry-run"]);
  assert.equal(dryRun.code, 0, dryRun.stderr + dryRun.stdout);
  assert.match(dryRun.stdout + dryRun.stderr, /locked until \d{4}-\d\d-\d\d/);
  // verify --storage checks both copies against their sidecars and says how long each is locked
  const verify = fx.run(["verify", "--storage"]);
  assert.equal(verify.code, 0, verify.stderr + verify.stdout);
  const lines = (verify.stdout + verify.stderr).split("\n").filter((l) => /\.tar\.zst\.age: ok, locked until \d{4}-\d\d-\d\dT/.test(l));
  assert.equal(lines.length, 2, verify.stdout + verify.stderr);
});

test("the S3 endpoint goes down mid-upload: exit 1, nothing visible in the bucket, the local copy commits", { timeout: 120_000 }, async (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar") || !needRoot(t)) return;
  const server = needS3(t);
  if (!server) return;
  const fx = makeFixture(t, "offsite-cut");
  writeFileSync(join(fx.data, "big", "incompressible.bin"), randomBytes(40 * 1024 * 1024)); // several 16 MiB parts
  const client = s3Client(server);
  const bucket = `sov-e2e-cut-${Math.random().toString(36).slice(2, 10)}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const relay = await startTcpRelay(server.endpoint, { downAfterBytes: 20 * 1024 * 1024 });
  t.after(() => relay.stop());
  const credentials = writeCredentials(fx.dir, server);
  fx.writeV2Config(`compress: { plugin: zstd }
destinations:
  - { name: local, plugin: local, path: ${fx.backups} }
${s3Destination({ ...server, endpoint: relay.endpoint }, bucket, credentials)}`);
  const child = sovSpawn(["run"], fx.env, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 1, output);
  assert.ok(relay.isDown, "the endpoint went down mid-run");
  assert.match(output, new RegExp(`offsite: FAILED: .*bucket ${bucket} at ${relay.endpoint}.*the endpoint cannot be reached`));
  assert.equal(fx.archives().length, 1, "the local copy committed");
  const keys = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(keys.KeyCount, 0, "nothing visible in the bucket");
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.ok((uploads.Uploads?.length ?? 0) <= 1, "at most the one upload the abort could not reach, for the next run to abort");
});
