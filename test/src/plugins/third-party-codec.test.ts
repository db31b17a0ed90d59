// Issue 11: decoders come from whatever compress plugin declares one. A third-party compressor
// named in the config (here raw deflate, suffix `.dfl`) writes archives that `sov restore`
// decodes with that plugin's own decoder; without the config, restore says which suffix no
// plugin decodes, with exit 2, and writes nothing.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ageKeypair, needRoot, needTools, scratch, sov } from "../helpers.js";

const DEFLATE_PLUGIN = `import { createDeflateRaw, createInflateRaw } from "node:zlib";
export default {
  name: "sov-plugin-compress-deflate",
  stage: "compress",
  optionsSchema: { type: "object", additionalProperties: false },
  apply(hooks) {
    hooks.compress.tapPromise("deflate", async () => ({
      extension: "dfl",
      describe: () => ["raw deflate"],
      createCompressStream: () => createDeflateRaw(),
    }));
  },
  decoder: { extension: "dfl", createDecodeStream: async () => createInflateRaw() },
};
`;

test("a third-party compressor's archives restore through its own decoder", (t) => {
  if (!needTools(t, "age") || !needRoot(t)) return;
  const dir = scratch(t, "codec");
  const { identity, recipient } = ageKeypair(dir);
  writeFileSync(join(dir, "recipients.txt"), `${recipient}\n`);
  const data = join(dir, "data");
  mkdirSync(join(data, "sub"), { recursive: true });
  writeFileSync(join(data, "a.txt"), "alpha\n".repeat(1000));
  writeFileSync(join(data, "sub", "b.bin"), Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251)));
  const pluginDir = join(dir, "plugins");
  mkdirSync(pluginDir, { mode: 0o755 });
  chmodSync(pluginDir, 0o755);
  const pluginFile = join(pluginDir, "deflate.mjs");
  writeFileSync(pluginFile, DEFLATE_PLUGIN, { mode: 0o644 });
  chmodSync(pluginFile, 0o644);
  const etc = join(dir, "etc");
  mkdirSync(etc);
  const backups = join(dir, "backups");
  writeFileSync(
    join(etc, "config.yaml"),
    [
      "version: 2",
      "host: codec",
      `source: { plugin: fs, paths: [${data}] }`,
      `compress: { plugin: ${pluginFile} }`,
      `encrypt: { plugin: age, recipients_file: ${join(dir, "recipients.txt")} }`,
      "destinations:",
      `  - { name: local, plugin: local, path: ${backups} }`,
      "",
    ].join("\n"),
  );
  const env = { SOVEREIGN_BACKUP_CONFIG_DIR: etc, SOVEREIGN_BACKUP_LOCKDIR: join(dir, "lock"), SOVEREIGN_BACKUP_LOG: join(dir, "sov.log"), SOVEREIGN_BACKUP_IDENTITY: identity };

  const run = sov(["run"], env);
  assert.equal(run.code, 0, run.stderr);
  const archives = readdirSync(backups).filter((n) => n.endsWith(".age"));
  assert.equal(archives.length, 1, archives.join(", "));
  assert.match(archives[0]!, /^sovereign-backup-codec-\d{8}-\d{6}\.tar\.dfl\.age$/);

  const target = join(dir, "restored");
  const restore = sov(["restore", "--latest", target], env);
  assert.equal(restore.code, 0, restore.stderr);
  const inside = join(target, data.slice(1));
  assert.deepEqual(readFileSync(join(inside, "a.txt")), readFileSync(join(data, "a.txt")));
  assert.deepEqual(readFileSync(join(inside, "sub", "b.bin")), readFileSync(join(data, "sub", "b.bin")));

  const verify = sov(["restore", "--verify", join(backups, archives[0]!)], env);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stderr + verify.stdout, /verify ok: .* 2 files/);

  // With no config, nothing says how to decode .dfl: a clear error, exit 2, nothing written.
  const noConfig = { ...env, SOVEREIGN_BACKUP_CONFIG_DIR: join(dir, "no-etc") };
  const elsewhere = join(dir, "elsewhere");
  const refused = sov(["restore", join(backups, archives[0]!), elsewhere], noConfig);
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /no plugin decodes '\.dfl' archives/);
  assert.ok(!existsSync(elsewhere) || readdirSync(elsewhere).length === 0, "nothing restored");
});
