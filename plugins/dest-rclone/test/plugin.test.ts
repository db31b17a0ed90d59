import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ArchiveStore } from "@sov/core";
import { applyPluginForTest, checkPluginOptions, checkPluginShape, createRunInfo } from "@sov/core/testing";
import plugin from "../src/index.js";
import { needTools } from "./helpers.js";

describe("dest-rclone plugin", () => {
  test("adds a rename store under the destination's name", async (t) => {
    if (!needTools(t, "rclone")) return;
    checkPluginShape(plugin, "destination");
    const { hooks } = applyPluginForTest(plugin, { remote: "b2:acme/web1" }, { instance: "cloud" });
    const added: ArchiveStore[] = [];
    await hooks.destination.promise({ add: (store: ArchiveStore) => void added.push(store) } as never, createRunInfo());
    assert.deepEqual(added.map((s) => [s.name, s.features, s.describe()]), [["cloud", { publish: "rename" }, ["rclone b2:acme/web1 (/usr/bin/rclone)"]]]);
  });

  test("an on-the-fly local remote declares its path, for sov install's ReadWritePaths", async (t) => {
    if (!needTools(t, "rclone")) return;
    const { hooks } = applyPluginForTest(plugin, { remote: ":local:/srv/mirror" }, { instance: "mirror" });
    const added: ArchiveStore[] = [];
    await hooks.destination.promise({ add: (store: ArchiveStore) => void added.push(store) } as never, createRunInfo());
    assert.deepEqual(added[0]?.features, { publish: "rename", localPath: "/srv/mirror" });
  });

  test("a remote that rclone would read as a flag, or a missing remote, is refused by the schema", () => {
    assert.throws(() => checkPluginOptions(plugin, { remote: "--config=/tmp/x:" }), /\/remote must match pattern/);
    assert.throws(() => checkPluginOptions(plugin, { remote: "no-colon" }), /\/remote must match pattern/);
    assert.throws(() => checkPluginOptions(plugin, {}), /must have required property 'remote'/);
  });
});
