// The complete destination plugin of core/PLUGINS.md, taken from the guide, transpiled and
// written as a module inside the repository (so its `import "@sov/core"` resolves), optionally
// edited first: the broken copies the contract-check tests need start from the same code.
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import type { SovPlugin } from "@sov/core";
import { REPO } from "../helpers.js";

const MARKER = "<!-- doc-test: example-destination -->";

export function docExampleSource(): string {
  const guide = readFileSync(join(REPO, "core", "PLUGINS.md"), "utf8");
  const block = /```ts\n([\s\S]*?)```/.exec(guide.slice(guide.indexOf(MARKER)))?.[1];
  assert.ok(guide.includes(MARKER) && block, `core/PLUGINS.md must keep the example under ${MARKER}`);
  return block;
}

/** Replaces `from` (which must occur) by `to` in the example's source. */
export function edit(source: string, from: string, to: string): string {
  assert.ok(source.includes(from), `the PLUGINS.md example no longer contains ${JSON.stringify(from)}`);
  return source.replace(from, to);
}

/** Writes `source` as an ES module under test/dist/plugins; returns its path and a cleanup. */
export function writeModule(source: string, label: string): { file: string; remove: () => void } {
  const file = join(REPO, "test", "dist", "plugins", `${label}-${process.pid}.mjs`);
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
  writeFileSync(file, outputText, { mode: 0o644 });
  return { file, remove: () => rmSync(file, { force: true }) };
}

export async function importPlugin(file: string): Promise<SovPlugin> {
  return ((await import(pathToFileURL(file).href)) as { default: SovPlugin }).default;
}
