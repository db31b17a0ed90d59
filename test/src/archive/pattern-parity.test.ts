/**
 * One pattern language (issue 11 item 8): a pattern selects the same entries when it leaves
 * them out at backup (`exclude`) as when it picks them at partial restore (`--path`). Patterns
 * that start with `*` or name the whole member path mean the same anchored (restore, like
 * `tar -x`) and unanchored (exclusion, like `tar --exclude`).
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { test } from "node:test";
import { needRoot, needTools } from "../helpers.js";
import { gnuTarMembers, makeScene, plainTar } from "./scene.js";

const FILES = [
  "a.log", "sub/b.log", "sub/keep.txt", "sub/cache/c1", "cache/c2",
  "ab/ap/keep1", "ab/bq/keep2", "ab/cc/keep3",
  "1file", "sub/2file", "etc/nginx/nginx.conf", "etc/nginxx",
  "star*name", "starXname", "xaz", "x1z", "[odd]", "o",
];

/** Regular files under `dir`, relative to it, sorted. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

test("each pattern leaves out at backup exactly the files it restores at partial restore", async (t) => {
  if (!needTools(t, "age", "zstd", "tar") || !needRoot(t)) return;
  const s = makeScene(t, "pattern-parity");
  for (const f of FILES) {
    mkdirSync(join(s.data, f, ".."), { recursive: true });
    writeFileSync(join(s.data, f), f);
  }
  const member = s.data.slice(1); // member names start without the leading `/`
  const patterns = [
    "*.log",
    "*/cache",
    "*/[ab]?/keep*",
    "*/[[:digit:]]*",
    `${member}/etc/nginx`,
    "*/star\\*name",
    "*/x[!0-9]z",
    "*/[[]odd]",
    "*/?",
  ];

  s.configure();
  assert.equal(s.run().code, 0);
  const full = s.archive();
  const all = FILES.map((f) => `${member}/${f}`).sort();

  for (const pattern of patterns) {
    // backup: what the archive holds with this one exclusion
    for (const name of readdirSync(s.backups)) if (!full.endsWith(`/${name}`) && !name.startsWith(full.split("/").pop()!)) rmSync(join(s.backups, name));
    s.configure({ source: `exclude: [${JSON.stringify(pattern)}]` });
    const run = s.run();
    assert.equal(run.code, 0, run.stderr);
    const excludedArchive = readdirSync(s.backups).map((n) => join(s.backups, n)).find((p) => p !== full && p.endsWith(".age"))!;
    const kept = gnuTarMembers(plainTar(excludedArchive, s.identity)).filter((m) => !m.endsWith("/"));
    const leftOut = all.filter((f) => !kept.includes(f));

    // restore: what --path picks from the full archive
    const target = join(s.dir, "restored");
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target);
    const restore = s.run(["restore", full, target, "--path", pattern]);
    assert.equal(restore.code, 0, `--path ${pattern}: ${restore.stderr}`);
    const picked = filesUnder(target);

    assert.ok(leftOut.length > 0 && leftOut.length < all.length, `${pattern} selects some files, not all: ${leftOut.join(", ")}`);
    assert.deepEqual(picked, leftOut, `pattern ${pattern}: --path restores exactly what exclude leaves out`);
  }
});
