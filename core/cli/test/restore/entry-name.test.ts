/**
 * checkEntryName and plainPath: the quick check of an ordinary name must give exactly what the
 * component by component check gives, for every mix of the components that matter (empty, `.`,
 * `..`, NUL, a leading or trailing `/`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkEntryName, MAX_DEPTH, plainPath } from "../../src/restore/entry-name.js";

/** The rule spelled out, one component at a time: what checkEntryName must agree with. */
function reference(name: string): { ok: true; parts: string[]; path: string } | { ok: false } {
  if (name.includes("\0") || name.startsWith("/")) return { ok: false };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..") || parts.length > MAX_DEPTH) return { ok: false };
  return { ok: true, parts, path: parts.join("/") };
}

test("every name gets the answer the component-by-component rule gives", () => {
  const pieces = ["", ".", "..", "...", ".a", "a.", "a..b", "b", "x\0y", "é\xff"];
  const names = new Set<string>();
  const grow = (prefix: string[], depth: number) => {
    names.add(prefix.join("/"));
    if (depth === 0) return;
    for (const piece of pieces) grow([...prefix, piece], depth - 1);
  };
  grow([], 4);
  for (const name of [...names]) {
    names.add(`/${name}`);
    names.add(`${name}/`);
    names.add(`${name}//`);
  }
  names.add(Array.from({ length: MAX_DEPTH }, () => "d").join("/"));
  names.add(`${Array.from({ length: MAX_DEPTH }, () => "d").join("/")}/`);
  names.add(Array.from({ length: MAX_DEPTH + 1 }, () => "d").join("/"));
  assert.ok(names.size > 10_000);
  for (const name of names) {
    const got = checkEntryName(name);
    const want = reference(name);
    assert.equal(got.ok, want.ok, JSON.stringify(name));
    if (got.ok && want.ok) assert.deepEqual({ parts: got.parts, path: got.path }, { parts: want.parts, path: want.path }, JSON.stringify(name));
    // plainPath answers only for names that are their own path: never for one the rule refuses
    const plain = plainPath(name);
    if (plain !== null) assert.ok(want.ok && plain === want.path, JSON.stringify(name));
    else if (want.ok && [want.path, `${want.path}/`].includes(name) && want.path !== "") assert.fail(`${JSON.stringify(name)} is plain`);
  }
});
