import assert from "node:assert/strict";
import { chmodSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError, ExitCode } from "@sov/core";
import { createRcloneStore } from "../src/index.js";
import { contextFor, needRoot, needTools, scratch, writeConfig } from "./helpers.js";

function refused(message: string) {
  return (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    assert.equal(err.message, message);
    return true;
  };
}

describe("dest-rclone runs only a trusted binary and reads only a private config", () => {
  test("as root: a world-writable binary and a world-readable config file are refused before anything runs", async (t) => {
    if (!needTools(t, "rclone") || !needRoot(t)) return;
    const dir = scratch(t);
    const binary = join(dir, "rclone");
    copyFileSync("/usr/bin/rclone", binary);
    chmodSync(binary, 0o777);
    const marker = join(dir, "ran");
    await assert.rejects(
      createRcloneStore({ remote: `:local:${marker}`, binary }, contextFor()),
      refused(`binary: file ${binary} is writable by group or others (mode 777); chmod go-w it`),
    );
    chmodSync(binary, 0o755);
    const config = writeConfig(dir, "disk", { type: "local" });
    chmodSync(config, 0o644);
    await assert.rejects(
      createRcloneStore({ remote: `disk:${marker}`, binary, config_file: config }, contextFor()),
      refused(`config_file: ${config} is readable by group or others (mode 644); chmod 0600 it`),
    );
    chmodSync(config, 0o600);
    const store = await createRcloneStore({ remote: `disk:${marker}`, binary, config_file: config }, contextFor());
    await store.open();
    assert.deepEqual(await store.list(), []);
  });
});
