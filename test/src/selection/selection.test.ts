import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { IN_CI, needRoot, needTools, sh, SOV_BIN, SOV_NODE_FLAGS } from "../helpers.js";
import { makeFixture, type Fixture } from "../run/fixture.js";
import { snapshotTree } from "../tree.js";

const SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55";

/** The selection keys, as top-level v0.1 lines; v2 takes the same keys in its source block. */
const SELECTION_KEYS = `exclude_caches: true
exclude_if_present: [.nobackup]
one_file_system: true
exclude_larger_than: 1M
exclude_from: excludes.txt
include_from:
  - includes.txt`;

function put(root: string, rel: string, content: string | Buffer = rel): void {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), content);
}

/**
 * Adds to the fixture's tree one thing for each selection key, and the list files beside the
 * config (where relative list paths are resolved from). Returns the member names a run must
 * archive: the tree (the fixture's own exclusions applied) minus what each key leaves out, plus
 * the tree include_from adds.
 */
function arrange(fx: Fixture): string[] {
  put(fx.data, "cache/CACHEDIR.TAG", `${SIGNATURE}\n# a cache directory tag\n`);
  put(fx.data, "cache/blob");
  put(fx.data, "cache/sub/deep");
  put(fx.data, "fake-cache/CACHEDIR.TAG", `${SIGNATURE.slice(0, -2)}00\n`); // wrong signature: archived whole
  put(fx.data, "fake-cache/kept");
  put(fx.data, "scratch/.nobackup", "");
  put(fx.data, "scratch/tmp");
  put(fx.data, "logs/app.log");
  put(fx.data, "logs/keep.txt");
  put(fx.dir, "extra/notes.txt");
  const etc = join(fx.configFile, "..");
  writeFileSync(join(etc, "excludes.txt"), "# noisy logs\r\n\r\n*.log\r\n");
  writeFileSync(join(etc, "includes.txt"), `# more to keep\r\n${join(fx.dir, "extra")}\r\n`);

  const out = (rel: string) =>
    rel.startsWith("app/node_modules") || rel === "app/cache.pyc" || // the fixture's exclusions
    (rel.startsWith("cache/") && rel !== "cache/CACHEDIR.TAG") ||
    rel === "scratch" || rel.startsWith("scratch/") ||
    rel === "big/random.bin" || // 3 MiB, over 1M; big/zeros.bin (512 KiB) stays
    rel === "logs/app.log";
  const data = fx.data.slice(1);
  const extra = join(fx.dir, "extra").slice(1);
  return [data, ...Object.keys(snapshotTree(fx.data)).filter((rel) => !out(rel)).map((rel) => `${data}/${rel}`), extra, `${extra}/notes.txt`].sort();
}

function writeV2Config(fx: Fixture, sourceKeys: string): void {
  const indented = sourceKeys.split("\n").map((l) => `  ${l}`).join("\n");
  writeFileSync(
    fx.configFile,
    `version: 2
host: testhost
source:
  plugin: fs
  paths: [${fx.data}]
  exclude: ["*/node_modules", "*.pyc"]
${indented}
encrypt: { plugin: age, recipients_file: ${fx.recipientsFile} }
destinations:
  - { name: local, plugin: local, path: ${fx.backups}, retention: { days: 0 } }
`,
  );
}

interface Selection {
  included: string[];
  excluded: Map<string, string>;
}

/** The `+` and `-` lines of `sov run --dry-run --verbose`; `-` lines read `- PATH (REASON)`. */
function parseSelection(stdout: string): Selection {
  const included: string[] = [];
  const excluded = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /\[INFO\] {4}([+-]) (.*)$/.exec(line);
    if (!m) continue;
    if (m[1] === "+") {
      included.push(m[2]!.replace(/\/$/, ""));
    } else {
      const r = /^(.*?) \((.*)\)$/.exec(m[2]!);
      assert.ok(r, `an excluded path comes with a reason: ${line}`);
      excluded.set(r[1]!, r[2]!);
    }
  }
  return { included: included.sort(), excluded };
}

/** The archive's member names, decrypted with the fixture's identity by stock tools. */
function archiveListing(fx: Fixture): string[] {
  const archives = fx.archives();
  assert.equal(archives.length, 1, archives.join());
  return sh(`age -d -i ${fx.identity} ${join(fx.backups, archives[0]!)} | zstd -d | tar -t`)
    .split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, ""))
    .sort();
}

/** list, dry run, real run: the same selection through each, for either config format. */
function checkSelection(t: TestContext, fx: Fixture, expected: string[]): void {
  const etc = join(fx.configFile, "..");
  const list = fx.run(["list"]);
  assert.equal(list.code, 0, list.stderr);
  for (const line of [
    "excluding */node_modules, *.pyc",
    `excluding (exclude_from ${join(etc, "excludes.txt")}) *.log`,
    `${join(fx.dir, "extra")} (from include_from ${join(etc, "includes.txt")})`,
    "exclude_caches: a directory with a valid CACHEDIR.TAG is archived with the tag only",
    "exclude_if_present: a directory holding .nobackup is left out",
    "one_file_system: directories on another filesystem are archived empty",
    "exclude_larger_than: 1M (1048576 bytes): larger regular files are left out",
  ]) {
    assert.ok(list.stdout.includes(`  ${line}\n`), `sov list shows '${line}':\n${list.stdout}`);
  }

  const dry = fx.run(["run", "--dry-run", "--verbose"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.deepEqual(fx.files(), [], "a dry run writes nothing");
  assert.equal(existsSync(fx.lockDir), false, "nor takes the lock");
  const selection = parseSelection(dry.stdout);
  assert.deepEqual(selection.included, expected, "+ lines are exactly what the archive will hold");
  const data = fx.data.slice(1);
  assert.deepEqual(
    Object.fromEntries([...selection.excluded].sort()),
    {
      [`${data}/app/cache.pyc`]: "matches exclude pattern *.pyc",
      [`${data}/app/node_modules/`]: "matches exclude pattern */node_modules",
      [`${data}/big/random.bin`]: "larger than 1M (3.0 MiB)",
      [`${data}/cache/blob`]: "cache directory (CACHEDIR.TAG)",
      [`${data}/cache/sub/`]: "cache directory (CACHEDIR.TAG)",
      [`${data}/logs/app.log`]: `from exclude_from ${join(etc, "excludes.txt")}: *.log`,
      [`${data}/scratch/`]: "holds .nobackup",
    },
    "each - line says why",
  );
  assert.match(dry.stdout, new RegExp(`selection: ${expected.length} included, 7 excluded`));

  const run = fx.run();
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(archiveListing(fx), expected, "the archive holds exactly the expected paths");
  assert.match(run.stdout, /left out 1 file\(s\) larger than 1M/);
  void t;
}

test("a v0.1 config with every selection key: sov list shows them, a dry run lists + and - with reasons, a run archives exactly the + paths", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "selection-v01");
  const expected = arrange(fx);
  fx.writeConfig({ extra: SELECTION_KEYS });
  checkSelection(t, fx, expected);
});

test("a v2 config with the same options in its source block selects the same", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "selection-v2");
  const expected = arrange(fx);
  writeV2Config(fx, SELECTION_KEYS);
  checkSelection(t, fx, expected);
});

test("a bad exclude_larger_than or a missing list file exits 2, naming the config line or the file", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "selection-bad");
  const lineOf = (text: string) => readFileSync(fx.configFile, "utf8").split("\n").findIndex((l) => l.includes(text)) + 1;

  fx.writeConfig({ extra: "exclude_caches: true\nexclude_larger_than: lots" });
  let res = fx.run(["run", "--dry-run"]);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`config\\.yaml:${lineOf("exclude_larger_than: lots")}: exclude_larger_than: `));

  writeV2Config(fx, "exclude_larger_than: 2 gigs");
  res = fx.run(["run", "--dry-run"]);
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`config\\.yaml:${lineOf("exclude_larger_than: 2 gigs")}: source\\.exclude_larger_than: `));

  fx.writeConfig({ extra: "exclude_from: missing.txt" });
  res = fx.run();
  assert.equal(res.code, 2, res.stderr);
  assert.ok(res.stderr.includes(`exclude_from ${join(fx.configFile, "..", "missing.txt")}: no such file`), res.stderr);
  assert.deepEqual(fx.files(), [], "nothing written");
});

/** `sov run` under /usr/bin/time, killed after `seconds`: its exit code and peak RSS in MiB. */
function boundedRun(fx: Fixture, seconds: number): { code: number | null; stderr: string; peakMiB: number } {
  const res = spawnSync("/usr/bin/time", ["-f", "peak-rss-kib=%M", process.execPath, ...SOV_NODE_FLAGS, SOV_BIN, "run"], {
    env: { ...process.env, ...fx.env },
    encoding: "utf8",
    timeout: seconds * 1000,
    killSignal: "SIGKILL",
  });
  const kib = Number(/peak-rss-kib=(\d+)/.exec(res.stderr ?? "")?.[1] ?? NaN);
  return { code: res.status, stderr: res.stderr ?? "", peakMiB: kib / 1024 };
}

test("exclude_from naming a FIFO, include_from naming /dev/zero: exit 2 at once, naming the file; nothing written", (t) => {
  if (!needTools(t, "age-keygen", "mkfifo", "time")) return;
  const fx = makeFixture(t, "selection-fifo");
  const fifo = join(fx.dir, "etc", "excludes.fifo");
  sh(`mkfifo ${fifo}`);
  for (const [key, file] of [["exclude_from", fifo], ["include_from", "/dev/zero"]] as const) {
    fx.writeConfig({ extra: `${key}: ${file}` });
    // a hang is minutes and /dev/zero grows by hundreds of MiB a second: generous bounds
    const res = boundedRun(fx, 60);
    assert.equal(res.code, 2, `${key}: ${res.stderr}`);
    assert.ok(res.peakMiB < 200, `${key}: peak RSS ${res.peakMiB} MiB`);
    assert.match(res.stderr, new RegExp(`${key}: ${file} is not a regular file`));
    assert.deepEqual(fx.files(), [], "nothing written");
    assert.equal(existsSync(fx.lockDir), false, "no lock left");
  }
});

test("as root, a list file someone else could write is refused (exit 2, naming it), like the recipients file", (t) => {
  if (!needTools(t, "age-keygen") || !needRoot(t)) return;
  const fx = makeFixture(t, "selection-trust");
  const etc = join(fx.configFile, "..");
  // each case: what is wrong, the list file, and the path at fault the message must name
  const cases: Array<[string, () => string, RegExp]> = [
    ["owned by another user", () => {
      const file = join(etc, "theirs.txt");
      writeFileSync(file, "*.log\n");
      chownSync(file, 65534, 65534);
      return file;
    }, new RegExp(`file ${etc}/theirs.txt is owned by uid 65534, not root`)],
    ["group-writable", () => {
      const file = join(etc, "group.txt");
      writeFileSync(file, "*.log\n");
      chmodSync(file, 0o664);
      return file;
    }, new RegExp(`file ${etc}/group.txt is writable by group or others \\(mode 664\\)`)],
    ["in a directory others can write", () => {
      const dir = join(fx.dir, "open");
      mkdirSync(dir);
      chmodSync(dir, 0o777);
      writeFileSync(join(dir, "list.txt"), `${fx.data}/etc\n`);
      return join(dir, "list.txt");
    }, new RegExp(`directory ${fx.dir}/open is writable by group or others`)],
  ];
  for (const [what, make, why] of cases) {
    const file = make();
    for (const key of ["exclude_from", "include_from"]) {
      fx.writeConfig({ extra: `${key}: ${file}` });
      const res = fx.run();
      assert.equal(res.code, 2, `${key} ${what}: ${res.stderr}`);
      assert.ok(res.stderr.includes(`${key}: `), `${key} ${what}: the key is named: ${res.stderr}`);
      assert.match(res.stderr, why, "the file or directory at fault is named, and why");
      assert.deepEqual(fx.files(), [], "nothing written");
    }
  }
});

test("one_file_system: a filesystem mounted inside a source is archived as an empty directory, as by tar --one-file-system", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar") || !needRoot(t)) return;
  const fx = makeFixture(t, "selection-xdev");
  // its own directory, unmounted before it is removed (the fixture's is removed first)
  const base = mkdtempSync("/run/sov-test/selection-mount-");
  chmodSync(base, 0o755);
  const tree = join(base, "tree");
  mkdirSync(join(tree, "mnt"), { recursive: true });
  const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0755", "none", join(tree, "mnt")], { encoding: "utf8" });
  t.after(() => {
    if (mount.status === 0) spawnSync("umount", [join(tree, "mnt")]);
    rmSync(base, { recursive: true, force: true });
  });
  if (mount.status !== 0) {
    if (IN_CI) throw new Error(`cannot mount a tmpfs in CI: ${mount.stderr}`);
    t.skip(`cannot mount a tmpfs here: ${mount.stderr.trim()}`);
    return;
  }
  put(tree, "f");
  put(tree, "mnt/inside");
  put(tree, "mnt/dir/deeper");
  fx.writeConfig({ sources: [tree], extra: "one_file_system: true" });

  const dry = fx.run(["run", "--dry-run", "--verbose"]);
  assert.equal(dry.code, 0, dry.stderr);
  const selection = parseSelection(dry.stdout);
  const name = tree.slice(1);
  assert.deepEqual(Object.fromEntries(selection.excluded), {
    [`${name}/mnt/dir/`]: "on another filesystem",
    [`${name}/mnt/inside`]: "on another filesystem",
  });

  const run = fx.run();
  assert.equal(run.code, 0, run.stderr);
  const listing = archiveListing(fx);
  assert.deepEqual(listing, [name, `${name}/f`, `${name}/mnt`]);
  assert.deepEqual(selection.included, listing);
  const gnu = sh(`tar -c --one-file-system -C / ${name} | tar -t`).split("\n").filter(Boolean).map((n) => n.replace(/\/$/, "")).sort();
  assert.deepEqual(listing, gnu);
});
