import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { compileExcludes, globToRegExpSource, PatternSet } from "../src/exclude.js";
import { archiveTo, makeSource, requireGnuTar, tar, tarList, tempDir } from "./helpers.js";

describe("exclusion patterns match like GNU tar's --exclude", () => {
  const cases: Array<[pattern: string, excluded: string[], kept: string[]]> = [
    ["*/node_modules", ["a/node_modules", "a/b/node_modules", "a/node_modules/x.js"], ["node_modules", "a/node_modules_old"]],
    ["*.pyc", ["x.pyc", "a/b/x.pyc", "a.pyc/inner"], ["x.pyc.txt", "a/x.py"]],
    ["*/.cache/*", ["home/u/.cache/f", "a/.cache/b/c"], ["home/u/.cache", ".cache/f"]],
    ["node_modules", ["node_modules", "a/node_modules", "a/node_modules/x"], ["a/node_modules_old", "xnode_modules"]],
    ["secret.txt", ["secret.txt", "a/b/secret.txt"], ["a/secret.txt.bak", "notsecret.txt"]],
    ["dir/sub", ["dir/sub", "x/dir/sub", "dir/sub/f"], ["dir/subx", "xdir/sub", "dir"]],
    ["dir/", [], ["dir", "dir/sub"]],
    ["d?r/s[a-u]b", ["dir/sub", "x/dor/sab/f"], ["dir/svb"]],
    ["[!a]*", ["b", "x/b", "a/b"], ["a", "a/a"]],
    ["dir\\/sub", ["dir/sub"], ["dir"]],
    ["[[:digit:]]x", ["1x", "a/2x"], ["ax"]],
    ["[unclosed", ["[unclosed", "a/[unclosed"], ["u"]],
  ];
  for (const [pattern, excluded, kept] of cases) {
    test(pattern, () => {
      const matches = compileExcludes([pattern]);
      for (const name of excluded) assert.ok(matches(name), `${pattern} excludes ${name}`);
      for (const name of kept) assert.ok(!matches(name), `${pattern} keeps ${name}`);
    });
  }

  test("literal patterns looked up by name part decide exactly as one expression of all patterns would", () => {
    const patterns = ["node_modules", "a/b", "srv/app/cache", "x.log", "dir/", "", "*.tmp", "k[0-9]", "a/b", "b", "lit\\eral", "/abs"];
    const oneExpression = new RegExp(`^(?:[^]*/)?(?:${patterns.map(globToRegExpSource).join("|")})(?:/[^]*)?$`);
    const names = [
      "node_modules", "x/node_modules/y", "node_modulesx", "a/b", "a/b/c", "z/a/b", "a/bc", "srv/app/cache/f", "app/cache",
      "x.log", "q/x.log", "x.logs", "dir", "dir/f", "w.tmp", "k1", "y/k9/z", "b", "c/b", "bb", "literal", "a//b", "x//", "abs", "q/abs",
    ];
    const set = new PatternSet(patterns);
    for (const name of names) assert.equal(set.matches(name), oneExpression.test(name), name);
  });

  test("firstMatch names the earliest pattern in the list that matches, literal or wildcard", () => {
    const set = new PatternSet(["*.log", "tmp", "a/tmp", "*", "x"]);
    assert.equal(set.firstMatch("var/x.log"), 0);
    assert.equal(set.firstMatch("a/tmp/b"), 1);
    assert.equal(set.firstMatch("x"), 3);
    assert.equal(new PatternSet(["tmp", "b", "a/b"]).firstMatch("a/b"), 1);
    assert.equal(new PatternSet(["q", "*.c"]).firstMatch("a/b"), -1);
  });

  test("no patterns exclude nothing; several combine", () => {
    assert.equal(compileExcludes([])("anything"), false);
    const matches = compileExcludes(["*.log", "tmp"]);
    assert.ok(matches("var/x.log") && matches("a/tmp/b") && !matches("a/b"));
  });
});

test("the archived members equal GNU tar's for the same --exclude patterns", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  for (const rel of [
    "proj/a.py", "proj/a.pyc", "proj/node_modules/x/i.js", "proj/sub/node_modules/m", "proj/secret.txt",
    "proj/.cache/b/f", "proj/.cache/top", "proj/dir/sub/deep", "dir/sub/deep/f", "dir/subx/f", "dir/secret.txt.bak",
    "secret.txt", "node_modules/top.js", ".cache/a/f", "odd [brackets]/f.pyc",
  ]) {
    mkdirSync(join(root, rel, ".."), { recursive: true });
    writeFileSync(join(root, rel), rel);
  }
  mkdirSync(join(root, "proj/empty/node_modules"), { recursive: true });
  const sources = ["proj", "dir", "secret.txt", "node_modules", ".cache", "odd [brackets]"];
  const patternSets = [
    ["*/node_modules"], ["*.pyc"], ["*/.cache/*"], ["node_modules"], ["secret.txt"], ["dir/sub"],
    ["proj"], ["*"], ["sub/*"], ["p?oj/sub"], ["[pd]*/sub"], ["dir/"], [".cache"], ["*/node_modules", "*.pyc", "secret.txt"],
    ["odd [brackets]"], ["odd \\[brackets]"], ["*[b*"], ["[[:alpha:]]ir/sub"], ["*/sub*/*"],
  ];
  const out = tempDir(t);
  for (const patterns of patternSets) {
    const archive = join(out, "ours.tar");
    await archiveTo(makeSource({ paths: sources, root, exclude: patterns }), archive);
    const gnu = join(out, "gnu.tar");
    tar(["-c", "-f", gnu, "-C", root, ...patterns.map((p) => `--exclude=${p}`), ...sources]);
    assert.deepEqual(tarList(archive), tarList(gnu), `patterns ${patterns.join(" ")}`);
  }
});
