// The destination conformance kit (@sov/core/testing) against sov's own local destination, loaded
// the way `sov run` loads it: by its short name, through the core's loader.
import { mkdtempSync, rmSync } from "node:fs";
import { readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { loadPlugin } from "@sov/core";
import { destinationConformance, destinationFromPlugin } from "@sov/core/testing";

const base = mkdtempSync(join(tmpdir(), "sov-conformance-local-"));
after(() => rmSync(base, { recursive: true, force: true }));
const dirFor = (index: number) => join(base, `check-${index}`, "archives");

destinationConformance(
  "dest-local (plugin 'local')",
  async ({ index }) => {
    const { plugin } = await loadPlugin("local", base, "destination");
    return destinationFromPlugin(plugin, { path: dirFor(index) }, { instance: "local", host: "conformance" });
  },
  {
    raw: ({ index }) => ({
      names: () => readdir(dirFor(index)),
      put: (name, data) => writeFile(join(dirFor(index), name), data),
    }),
  },
);
