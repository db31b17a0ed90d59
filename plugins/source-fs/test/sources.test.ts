import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, createStageHooks, RunError, silentLogger, type RunInfo } from "@sov/core";
import { Ajv } from "ajv";
import plugin from "../src/index.js";
import { memberName } from "../src/options.js";
import { archiveTo, makeSource, requireGnuTar, tarList, tempDir } from "./helpers.js";

const run: RunInfo = { host: "test", startedAt: new Date(), dryRun: false, signal: new AbortController().signal };

test("absolute and root-relative paths name the same members; '..' is refused", () => {
  assert.equal(memberName("/etc"), "etc");
  assert.equal(memberName("etc"), "etc");
  assert.equal(memberName("./srv//app/"), "srv/app");
  assert.equal(memberName("/"), "");
  assert.throws(() => memberName("/srv/../etc"), ConfigError);
  assert.throws(() => memberName(".."), /'\.\.' is not allowed/);
});

test("the plugin taps the source hook and refuses '..' as a config error", async () => {
  const hooks = createStageHooks();
  const ctx = { instance: "source", host: "test", configDir: "/", log: silentLogger() };
  plugin.apply(hooks, { paths: ["/etc/../root"] }, ctx);
  await assert.rejects(hooks.source.promise(run), (err) => err instanceof ConfigError && /'\.\.' is not allowed/.test(err.message));

  const ok = createStageHooks();
  plugin.apply(ok, { paths: ["/etc", "srv/app"], exclude: ["*/node_modules"] }, ctx);
  const source = await ok.source.promise(run);
  assert.deepEqual(source?.describe(), ["/etc", "/srv/app", "excluding */node_modules"]);
});

test("the options schema requires paths, defaults exclude and root, and rejects unknown keys", () => {
  const validate = new Ajv({ useDefaults: true, strict: false }).compile(plugin.optionsSchema);
  const options: Record<string, unknown> = { paths: ["/etc"] };
  assert.ok(validate(options));
  assert.deepEqual(options, { paths: ["/etc"], exclude: [], root: "/", exclude_caches: false, exclude_if_present: [], one_file_system: false });
  assert.ok(!validate({ paths: [] }), "at least one path");
  assert.ok(!validate({}), "paths is required");
  assert.ok(!validate({ paths: ["/etc"], excludes: [] }), "unknown keys are errors");
});

test("a missing source and a symlinked source are warned about and skipped", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  mkdirSync(join(root, "real"));
  writeFileSync(join(root, "real/f"), "f");
  symlinkSync("real", join(root, "link"));
  const logged = silentLogger();
  const source = makeSource({ paths: ["/real", "/link", "/missing"], root }, logged);
  const archive = join(tempDir(t), "out.tar");
  await archiveTo(source, archive);

  assert.deepEqual(tarList(archive), ["real", "real/f"]);
  assert.equal(source.stats.warnings.length, 2);
  assert.match(source.stats.warnings[0]!, /\/link: is a symlink; skipped/);
  assert.match(source.stats.warnings[1]!, /\/missing: no such file or directory; skipped/);
  assert.deepEqual(logged.warnings, source.stats.warnings, "warnings are logged too");
  assert.deepEqual([source.stats.files, source.stats.bytes], [1, 1]);
});

test("with no valid source path the stream fails", async (t) => {
  const root = tempDir(t);
  symlinkSync("/etc", join(root, "etc-link"));
  const source = makeSource({ paths: ["/missing", "/etc-link"], root });
  const chunks: Buffer[] = [];
  await assert.rejects(
    (async () => {
      for await (const chunk of source.open(new AbortController().signal)) chunks.push(chunk as Buffer);
    })(),
    (err) => err instanceof RunError && /no valid source path/.test(err.message),
  );
  assert.equal(chunks.length, 0, "not a byte of archive");
  assert.equal(source.stats.warnings.length, 2);
});

test("overlapping sources archive each member once", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  mkdirSync(join(root, "srv/app"), { recursive: true });
  writeFileSync(join(root, "srv/app/f"), "f");
  const archive = join(tempDir(t), "out.tar");
  await archiveTo(makeSource({ paths: ["/srv/app", "/srv"], root }), archive);
  assert.deepEqual(tarList(archive), ["srv", "srv/app", "srv/app/f"]);
});
