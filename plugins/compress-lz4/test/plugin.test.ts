import assert from "node:assert/strict";
import { test } from "node:test";
import { createStageHooks, silentLogger, type PluginContext, type RunInfo } from "@sov/core";
import plugin, { DEFAULT_CHUNK_SIZE } from "../src/index.js";
import { MiB, mixed, through, chunked } from "./helpers.js";

const ctx: PluginContext = { instance: "@sov/compress-lz4", host: "test", configDir: "/nonexistent", log: silentLogger() };
const run: RunInfo = { host: "test", startedAt: new Date(0), dryRun: false, signal: new AbortController().signal };

test("the plugin is a compress plugin named after its package, with an lz4 decoder", () => {
  assert.equal(plugin.name, "@sov/compress-lz4");
  assert.equal(plugin.stage, "compress");
  assert.equal(plugin.decoder?.extension, "lz4");
  const schema = plugin.optionsSchema as { additionalProperties: unknown; properties: { chunk_size: { default: unknown } } };
  assert.equal(schema.additionalProperties, false, "unknown options are rejected");
  assert.equal(schema.properties.chunk_size.default, DEFAULT_CHUNK_SIZE);
  assert.equal(DEFAULT_CHUNK_SIZE, 4 * MiB);
});

test("apply() taps the compress hook; its compressor and the decoder round-trip", async () => {
  const hooks = createStageHooks();
  plugin.apply(hooks, { chunk_size: 256 * 1024 }, ctx);
  const compressor = await hooks.compress.promise(run);
  assert.ok(compressor, "the compress hook returned a compressor");
  assert.equal(compressor.extension, "lz4");
  assert.match(compressor.describe().join("\n"), /256 KiB/);
  const data = mixed(3 * MiB);
  const compressed = await through(compressor.createCompressStream(), chunked(data, [65536]));
  const decoded = await through(await plugin.decoder!.createDecodeStream({ log: silentLogger() }), [compressed]);
  assert.ok(decoded.equals(data));
});

test("apply() with no options uses 4 MiB frames", async () => {
  const hooks = createStageHooks();
  plugin.apply(hooks, {}, ctx);
  const compressor = await hooks.compress.promise(run);
  assert.match(compressor!.describe().join("\n"), /4 MiB/);
});
