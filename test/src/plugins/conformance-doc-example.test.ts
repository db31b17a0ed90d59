// core/PLUGINS.md promises that its complete example plugin passes the conformance kit. This
// test holds it to that: it takes the code block from the guide, transpiles it, loads it as a
// module and runs the kit on it, so the guide cannot drift from a working plugin.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { destinationConformance, destinationFromPlugin } from "@sov/core/testing";
import { docExampleSource, importPlugin, writeModule } from "./doc-example.js";

const example = writeModule(docExampleSource(), "doc-example");
after(example.remove);
const plugin = await importPlugin(example.file);

const base = mkdtempSync(join(tmpdir(), "sov-doc-example-"));
after(() => rmSync(base, { recursive: true, force: true }));
const dirFor = (index: number) => join(base, `check-${index}`);

destinationConformance(
  "the example plugin in core/PLUGINS.md",
  ({ index }) => destinationFromPlugin(plugin, { dir: dirFor(index) }, { instance: "example" }),
  {
    raw: ({ index }) => ({
      names: () => readdir(dirFor(index)),
      put: (name, data) => writeFile(join(dirFor(index), name), data),
    }),
  },
);

test("the example resolves a relative dir against the config directory and checks its options", async () => {
  const d = await destinationFromPlugin(plugin, { dir: "archives" }, { instance: "nas", configDir: base });
  assert.deepEqual(d.describe(), [`directory ${join(base, "archives")}`]);
  await assert.rejects(destinationFromPlugin(plugin, { dir: "" }, { instance: "nas" }), /invalid options/);
  await assert.rejects(destinationFromPlugin(plugin, { dir: "/x", extra: 1 }, { instance: "nas" }), /invalid options/);
});
