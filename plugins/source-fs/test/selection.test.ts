import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { ConfigError, createStageHooks, silentLogger, type Logger, type RunInfo } from "@sov/core";
import { Ajv } from "ajv";
import plugin from "../src/index.js";
import { type FsSourceOptions, parseSize } from "../src/options.js";
import { CACHEDIR_SIGNATURE } from "../src/selection.js";
import { MAX_LIST_FILE_BYTES } from "../src/list-file.js";
import { createFsSource } from "../src/source.js";
import { PREVIEW_BATCH } from "../src/walker.js";
import { archiveTo, includedPaths, makeSource, previewOf, requireGnuTar, requireRoot, tar, tarList, tempDir } from "./helpers.js";

const GiB = 1024 ** 3;

/** A file with `content` (its own path by default), parents made as needed. */
function put(root: string, rel: string, content: string | Buffer = rel): void {
  mkdirSync(join(root, rel, ".."), { recursive: true });
  writeFileSync(join(root, rel), content);
}

/** A scratch directory under /run (root-owned, 0755 all the way up), as a root-run config dir is. */
function trustedTempDir(t: TestContext): string {
  mkdirSync("/run/sov-test", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join("/run/sov-test", "source-fs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Our archive's members for `options`, and the same source's preview. */
async function archiveAndPreview(t: TestContext, options: FsSourceOptions, configDir = "/") {
  const source = createFsSource(options, { log: silentLogger(), configDir });
  const archive = join(tempDir(t), "ours.tar");
  await archiveTo(source, archive);
  const decisions = await previewOf(source);
  return { members: tarList(archive), decisions, source };
}

/** GNU tar's members for the same sources and options. */
function gnuMembers(t: TestContext, root: string, sources: string[], options: string[]): string[] {
  const archive = join(tempDir(t), "gnu.tar");
  tar(["-c", "-f", archive, "-C", root, ...options, ...sources]);
  return tarList(archive);
}

function reasonOf(decisions: Array<{ path: string; reason?: string }>, path: string): string | undefined {
  const found = decisions.filter((d) => d.path === path);
  assert.equal(found.length, 1, `${path} is reported once`);
  return found[0]!.reason;
}

describe("exclude_caches", () => {
  test("a valid CACHEDIR.TAG leaves the directory and the tag, as tar --exclude-caches does; a wrong or short one excludes nothing", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    put(root, "p/cache/CACHEDIR.TAG", `${CACHEDIR_SIGNATURE}\n# This file is a cache directory tag.\n`);
    put(root, "p/cache/blob");
    put(root, "p/cache/sub/deep");
    put(root, "p/exact/CACHEDIR.TAG", CACHEDIR_SIGNATURE); // the 43 bytes and nothing more
    put(root, "p/exact/f");
    put(root, "p/wrong/CACHEDIR.TAG", `${CACHEDIR_SIGNATURE.slice(0, -1)}6\n`);
    put(root, "p/wrong/f");
    put(root, "p/short/CACHEDIR.TAG", CACHEDIR_SIGNATURE.slice(0, -1));
    put(root, "p/short/f");
    put(root, "p/lowercase/CACHEDIR.TAG", CACHEDIR_SIGNATURE.toLowerCase());
    put(root, "p/lowercase/f");
    put(root, "p/symlinked/f");
    symlinkSync("../cache/CACHEDIR.TAG", join(root, "p/symlinked/CACHEDIR.TAG")); // never followed
    mkdirSync(join(root, "p/dir-tag/CACHEDIR.TAG"), { recursive: true });
    put(root, "p/dir-tag/f");
    put(root, "p/deep/keep");
    put(root, "p/deep/a/b/CACHEDIR.TAG", CACHEDIR_SIGNATURE);
    put(root, "p/deep/a/b/c/f");
    put(root, "listed/CACHEDIR.TAG", CACHEDIR_SIGNATURE);
    put(root, "listed/f");
    const sources = ["p", "listed"];

    const { members, decisions } = await archiveAndPreview(t, { paths: sources, root, exclude_caches: true });
    assert.deepEqual(members, gnuMembers(t, root, sources, ["--exclude-caches"]));
    for (const kept of ["p/cache", "p/cache/CACHEDIR.TAG", "p/exact/CACHEDIR.TAG", "p/deep/a/b/CACHEDIR.TAG", "listed", "listed/CACHEDIR.TAG"]) {
      assert.ok(members.includes(kept), `${kept} is archived`);
    }
    for (const gone of ["p/cache/blob", "p/cache/sub", "p/cache/sub/deep", "p/exact/f", "p/deep/a/b/c", "listed/f"]) {
      assert.ok(!members.includes(gone), `${gone} is left out`);
    }
    for (const kept of ["p/wrong/f", "p/short/f", "p/lowercase/f", "p/symlinked/f", "p/dir-tag/f", "p/deep/keep"]) {
      assert.ok(members.includes(kept), `${kept} is archived: its tag is not valid`);
    }

    assert.deepEqual(includedPaths(decisions), members, "the preview includes what the archive holds");
    assert.equal(reasonOf(decisions, "p/cache/blob"), "cache directory (CACHEDIR.TAG)");
    assert.equal(reasonOf(decisions, "p/cache/sub/"), "cache directory (CACHEDIR.TAG)");
    assert.ok(!decisions.some((d) => d.path.startsWith("p/cache/sub/") && d.path !== "p/cache/sub/"), "an excluded directory is not descended into");

    const off = await archiveAndPreview(t, { paths: sources, root });
    assert.ok(off.members.includes("p/cache/blob"), "without exclude_caches, cache directories are archived whole");
  });

  test("an exclude pattern applies to the tag too (GNU tar would keep it)", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    put(root, "cache/CACHEDIR.TAG", CACHEDIR_SIGNATURE);
    put(root, "cache/blob");
    const { members } = await archiveAndPreview(t, { paths: ["cache"], root, exclude_caches: true, exclude: ["CACHEDIR.TAG"] });
    assert.deepEqual(members, ["cache"]);
  });
});

describe("exclude_if_present", () => {
  test("a directory holding one of the names is left out entirely, as tar --exclude-tag-all does", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    put(root, "home/a/.nobackup", "");
    put(root, "home/a/f");
    put(root, "home/a/sub/g");
    put(root, "home/b/f");
    put(root, "home/b/sub/.nobackup", "");
    put(root, "home/b/sub/x");
    put(root, "home/c/.sov-skip", "");
    put(root, "home/c/f");
    put(root, "home/d/.nobackup.txt", "not the name");
    put(root, "home/d/f");
    mkdirSync(join(root, "home/e/.nobackup"), { recursive: true }); // a directory of that name counts too
    put(root, "home/e/f");
    put(root, "listed/.nobackup", "");
    put(root, "listed/f");
    const sources = ["home", "listed"];

    const { members, decisions } = await archiveAndPreview(t, { paths: sources, root, exclude_if_present: [".nobackup", ".sov-skip"] });
    assert.deepEqual(members, gnuMembers(t, root, sources, ["--exclude-tag-all=.nobackup", "--exclude-tag-all=.sov-skip"]));
    assert.deepEqual(members, ["home", "home/b", "home/b/f", "home/d", "home/d/.nobackup.txt", "home/d/f"]);
    assert.deepEqual(includedPaths(decisions), members);
    assert.equal(reasonOf(decisions, "home/a/"), "holds .nobackup");
    assert.equal(reasonOf(decisions, "home/c/"), "holds .sov-skip");
    assert.equal(reasonOf(decisions, "listed/"), "holds .nobackup");
    assert.ok(!decisions.some((d) => d.path.startsWith("home/a/") && d.path !== "home/a/"), "reported once, not descended into");
  });
});

describe("exclude_larger_than", () => {
  test("sizes are bytes or K, M, G, T in powers of 1024; anything else is a config error", () => {
    const cases: Array<[string | number, number]> = [
      ["10k", 10 * 1024],
      ["10K", 10 * 1024],
      ["500M", 500 * 1024 ** 2],
      ["2G", 2 * GiB],
      ["1t", 1024 ** 4],
      [" 3 m ", 3 * 1024 ** 2],
      ["1000", 1000],
      [1048576, 1048576],
      [0, 0],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, JSON.stringify(text));
    for (const bad of ["lots", "1.5G", "2GB", "2 GiB", "-1", "", "G", "1e3", "99999999999T"]) {
      assert.throws(() => parseSize(bad), (err) => err instanceof ConfigError && /exclude_larger_than/.test(err.message), JSON.stringify(bad));
    }
    assert.throws(() => parseSize(1.5), ConfigError);

    const validate = new Ajv({ strict: false, allowUnionTypes: true }).compile(plugin.optionsSchema);
    for (const ok of ["2G", "500m", "10k", 1048576, "1024"]) assert.ok(validate({ paths: ["/"], exclude_larger_than: ok }), `schema accepts ${ok}`);
    for (const bad of ["lots", "1.5G", "2GB", -1, 1.5, true]) assert.ok(!validate({ paths: ["/"], exclude_larger_than: bad }), `schema rejects ${bad}`);
  });

  test("regular files above the limit are left out, at the limit kept; counted and logged at debug level", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    put(root, "d/under", Buffer.alloc(10 * 1024 - 1, 1));
    put(root, "d/at", Buffer.alloc(10 * 1024, 1));
    put(root, "d/over", Buffer.alloc(10 * 1024 + 1, 1));
    linkSync(join(root, "d/over"), join(root, "d/over-hardlink"));
    symlinkSync("over", join(root, "d/over-symlink")); // a symlink has no size to speak of
    const debug: string[] = [];
    const info: string[] = [];
    const log: Logger = { ...silentLogger(), debug: (m) => void debug.push(m), info: (m) => void info.push(m) };
    const source = createFsSource({ paths: ["d"], root, exclude_larger_than: "10k" }, { log, configDir: "/" });
    const archive = join(tempDir(t), "out.tar");
    await archiveTo(source, archive);

    assert.deepEqual(tarList(archive), ["d", "d/at", "d/over-symlink", "d/under"]);
    assert.equal(source.stats.tooLarge, 2);
    assert.deepEqual(source.stats.warnings, [], "a deliberate exclusion is no warning");
    assert.ok(debug.some((m) => m.endsWith("/d/over: larger than 10k (10.0 KiB); not archived")), debug.join("\n"));
    assert.deepEqual(info, ["left out 2 file(s) larger than 10k (exclude_larger_than)"]);

    const decisions = await previewOf(source);
    assert.deepEqual(includedPaths(decisions), tarList(archive));
    assert.equal(reasonOf(decisions, "d/over"), "larger than 10k (10.0 KiB)");
  });

  test("a file of several GiB is left out without being read", async (t) => {
    const root = tempDir(t);
    put(root, "vm/small.txt", "small\n");
    writeFileSync(join(root, "vm/disk.img"), "");
    truncateSync(join(root, "vm/disk.img"), Math.round(3.1 * GiB)); // sparse: reading it would take a while
    const { members, decisions, source } = await archiveAndPreview(t, { paths: ["vm"], root, exclude_larger_than: "2G" });
    assert.deepEqual(members, ["vm", "vm/small.txt"]);
    assert.equal(source.stats.bytes, 6);
    assert.equal(reasonOf(decisions, "vm/disk.img"), "larger than 2G (3.1 GiB)");
  });
});

describe("exclude_from and include_from", () => {
  test("exclude_from: one pattern a line, comments, blank lines and CRLF ignored; like tar --exclude with each", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    for (const rel of ["app/a.log", "app/b.txt", "app/build/out.o", "app/src/secret.txt", "app/#literal", "app/keep#me", "app/x/a.log.1", "app/z.log"]) put(root, rel);
    const configDir = tempDir(t);
    writeFileSync(join(configDir, "excludes.txt"), "# build junk\r\n\r\n*.log\r\n  build  \r\n\t# an indented comment\nsecret.txt\n\\#literal\n   \n");
    writeFileSync(join(configDir, "more.txt"), "*.1\nz.*\n");
    const { members, decisions } = await archiveAndPreview(t, { paths: ["app"], root, exclude_from: ["excludes.txt", join(configDir, "more.txt")] }, configDir);
    assert.deepEqual(members, gnuMembers(t, root, ["app"], ["--exclude=*.log", "--exclude=build", "--exclude=secret.txt", "--exclude=\\#literal", "--exclude=*.1", "--exclude=z.*"]));
    assert.deepEqual(members, ["app", "app/b.txt", "app/keep#me", "app/src", "app/x"]);
    assert.deepEqual(includedPaths(decisions), members);
    assert.equal(reasonOf(decisions, "app/a.log"), `from exclude_from ${join(configDir, "excludes.txt")}: *.log`);
    assert.equal(reasonOf(decisions, "app/build/"), `from exclude_from ${join(configDir, "excludes.txt")}: build`);
    assert.equal(reasonOf(decisions, "app/x/a.log.1"), `from exclude_from ${join(configDir, "more.txt")}: *.1`);
    assert.equal(reasonOf(decisions, "app/z.log"), `from exclude_from ${join(configDir, "excludes.txt")}: *.log`, "the first pattern that matches");
    assert.equal(reasonOf(decisions, "app/#literal"), `from exclude_from ${join(configDir, "excludes.txt")}: \\#literal`);

    const both = await archiveAndPreview(t, { paths: ["app"], root, exclude: ["b.txt"], exclude_from: "excludes.txt" }, configDir);
    assert.equal(reasonOf(both.decisions, "app/b.txt"), "matches exclude pattern b.txt");
  });

  test("include_from: one path a line, added to paths; like tar -T", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    for (const rel of ["etc/app/app.conf", "srv/www/index.html", "srv/other/x", "data/x.txt", "data/y.txt", "#hash/f"]) put(root, rel);
    const configDir = tempDir(t);
    writeFileSync(join(configDir, "includes.txt"), "# what else to keep\r\n/srv/www\r\n\r\ndata/x.txt\n  /srv/www/  \n./#hash\n/etc/app/app.conf\n");
    const { members, decisions, source } = await archiveAndPreview(t, { paths: ["/etc/app"], root, include_from: "includes.txt" }, configDir);
    const gnuList = join(tempDir(t), "list");
    writeFileSync(gnuList, "etc/app\nsrv/www\ndata/x.txt\n#hash\n");
    assert.deepEqual(members, gnuMembers(t, root, [], ["-T", gnuList]), "repeats and paths inside another are archived once");
    assert.deepEqual(includedPaths(decisions), members);
    const lines = source.describe();
    assert.ok(lines.includes(`${join(root, "srv/www")} (archived as srv/www) (from include_from ${join(configDir, "includes.txt")})`), lines.join("\n"));
  });

  test("a missing list file, and a '..' in include_from, are config errors naming the file", (t) => {
    const configDir = tempDir(t);
    const make = (options: Partial<FsSourceOptions>) => () => createFsSource({ paths: ["/etc"], ...options }, { log: silentLogger(), configDir });
    assert.throws(make({ exclude_from: "nope.txt" }), (err) => err instanceof ConfigError && err.message === `exclude_from ${join(configDir, "nope.txt")}: no such file`);
    assert.throws(make({ include_from: ["/nonexistent/list"] }), (err) => err instanceof ConfigError && err.message === "include_from /nonexistent/list: no such file");
    assert.throws(make({ include_from: configDir }), (err) => err instanceof ConfigError && /is a directory/.test(err.message));
    writeFileSync(join(configDir, "bad.txt"), "/ok\n# fine\n/srv/../etc/shadow\n");
    assert.throws(make({ include_from: "bad.txt" }), (err) => err instanceof ConfigError && err.message.startsWith(`include_from ${join(configDir, "bad.txt")}:3: path '/srv/../etc/shadow': '..' is not allowed`));
  });

  test("a FIFO, a device or a file over the size bound is refused without reading it", (t) => {
    const configDir = tempDir(t);
    const make = (options: Partial<FsSourceOptions>) => () => createFsSource({ paths: ["/etc"], ...options }, { log: silentLogger(), configDir });
    const fifo = join(configDir, "fifo");
    spawnSync("mkfifo", [fifo]);
    // a blocking read of a FIFO without writer would never return: this call would hang
    assert.throws(make({ exclude_from: fifo }), (err) => err instanceof ConfigError && err.message.startsWith(`exclude_from ${fifo}: not a regular file`));
    assert.throws(make({ include_from: "/dev/zero" }), (err) => err instanceof ConfigError && err.message.startsWith("include_from /dev/zero: not a regular file"));
    const huge = join(configDir, "huge.txt");
    writeFileSync(huge, "");
    truncateSync(huge, MAX_LIST_FILE_BYTES + 1); // sparse: no disk used
    assert.throws(make({ exclude_from: huge }), (err) => err instanceof ConfigError && err.message === `exclude_from ${huge}: larger than 16 MiB, the most a list file may hold`);
  });
});

describe("one_file_system", () => {
  /** A scratch tree with a tmpfs mounted at `mnt`; unmounted (then removed) after the test. */
  function treeWithMount(t: TestContext): string | undefined {
    if (!requireRoot(t)) return undefined;
    const root = mkdtempSync(join(tmpdir(), "sov-source-fs-xdev-"));
    mkdirSync(join(root, "t/mnt"), { recursive: true });
    const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m,mode=0700", "none", join(root, "t/mnt")], { encoding: "utf8" });
    if (mount.status !== 0) {
      rmSync(root, { recursive: true, force: true });
      if (process.env.CI === "true") throw new Error(`cannot mount a tmpfs in CI: ${mount.stderr}`);
      t.skip(`cannot mount a tmpfs here: ${mount.stderr.trim()}`);
      return undefined;
    }
    t.after(() => {
      spawnSync("umount", [join(root, "t/mnt")]);
      rmSync(root, { recursive: true, force: true });
    });
    put(root, "t/a/f");
    put(root, "t/mnt/g");
    put(root, "t/mnt/inner/h");
    mkdirSync(join(root, "t/z-empty"));
    return root;
  }

  test("a mount point below a listed path is archived as an empty directory, as with tar --one-file-system", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = treeWithMount(t);
    if (!root) return;
    const { members, decisions } = await archiveAndPreview(t, { paths: ["t"], root, one_file_system: true });
    assert.deepEqual(members, gnuMembers(t, root, ["t"], ["--one-file-system"]));
    assert.deepEqual(members, ["t", "t/a", "t/a/f", "t/mnt", "t/z-empty"]);
    assert.deepEqual(includedPaths(decisions), members);
    assert.equal(reasonOf(decisions, "t/mnt/g"), "on another filesystem");
    assert.equal(reasonOf(decisions, "t/mnt/inner/"), "on another filesystem");
    assert.ok(!decisions.some((d) => d.path.startsWith("t/mnt/inner/") && d.path !== "t/mnt/inner/"));

    const archive = join(tempDir(t), "out.tar");
    await archiveTo(makeSource({ paths: ["t"], root, one_file_system: true }), archive);
    const mountPoint = tar(["-tvf", archive]).stdout.split("\n").find((l) => l.endsWith(" t/mnt/"));
    assert.match(mountPoint ?? "", /^drwx------ /, "the mount point carries the mounted filesystem's root mode, as GNU tar archives it");

    const crossing = await archiveAndPreview(t, { paths: ["t"], root });
    assert.ok(crossing.members.includes("t/mnt/inner/h"), "without one_file_system the walk crosses into the mount");
  });

  test("a listed path that is itself a mount point is walked, as with tar", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = treeWithMount(t);
    if (!root) return;
    const { members } = await archiveAndPreview(t, { paths: ["t/mnt", "t/a"], root, one_file_system: true });
    assert.deepEqual(members, gnuMembers(t, root, ["t/mnt", "t/a"], ["--one-file-system"]));
    assert.ok(members.includes("t/mnt/inner/h"));
  });
});

describe("the preview", () => {
  test("with every option at once, includes exactly what the archive holds and says why the rest is out", async (t) => {
    if (!requireGnuTar(t)) return;
    const root = tempDir(t);
    put(root, "srv/app/main.py");
    put(root, "srv/app/main.pyc");
    put(root, "srv/app/node_modules/dep/index.js");
    put(root, "srv/app/.cache/CACHEDIR.TAG", CACHEDIR_SIGNATURE);
    put(root, "srv/app/.cache/x");
    put(root, "srv/scratch/.nobackup", "");
    put(root, "srv/scratch/tmp");
    put(root, "srv/big.iso", Buffer.alloc(4096));
    put(root, "srv/notes.tmp");
    put(root, "etc/hosts");
    const configDir = tempDir(t);
    writeFileSync(join(configDir, "ex"), "*.tmp\n");
    writeFileSync(join(configDir, "in"), "/etc/hosts\n");
    const socket = createServer().listen(join(root, "srv/app/sock"));
    t.after(() => socket.close());
    await new Promise((resolve) => socket.once("listening", resolve));

    const { members, decisions } = await archiveAndPreview(
      t,
      {
        paths: ["/srv"],
        root,
        exclude: ["*/node_modules", "*.pyc"],
        exclude_caches: true,
        exclude_if_present: [".nobackup"],
        one_file_system: true,
        exclude_larger_than: "1k",
        exclude_from: "ex",
        include_from: "in",
      },
      configDir,
    );
    assert.deepEqual(members, ["etc/hosts", "srv", "srv/app", "srv/app/.cache", "srv/app/.cache/CACHEDIR.TAG", "srv/app/main.py"]);
    assert.deepEqual(includedPaths(decisions), members);
    assert.deepEqual(
      decisions.filter((d) => !d.included),
      [
        { path: "srv/app/.cache/x", included: false, reason: "cache directory (CACHEDIR.TAG)" },
        { path: "srv/app/main.pyc", included: false, reason: "matches exclude pattern *.pyc" },
        { path: "srv/app/node_modules/", included: false, reason: "matches exclude pattern */node_modules" },
        { path: "srv/app/sock", included: false, reason: "a socket; sockets are not archived" },
        { path: "srv/big.iso", included: false, reason: "larger than 1k (4.0 KiB)" },
        { path: "srv/notes.tmp", included: false, reason: `from exclude_from ${join(configDir, "ex")}: *.tmp` },
        { path: "srv/scratch/", included: false, reason: "holds .nobackup" },
      ],
    );
    assert.deepEqual(decisions[0], { path: "srv/", included: true }, "in walk order, directories first, named as in the archive");
  });

  test("a large tree arrives in many batches, complete and in order; aborting stops it", async (t) => {
    const root = tempDir(t);
    const count = PREVIEW_BATCH * 3 + 17;
    mkdirSync(join(root, "many"));
    const names = Array.from({ length: count }, (_, i) => `f${String(i).padStart(6, "0")}`);
    for (const name of names) writeFileSync(join(root, "many", name), "");
    const source = makeSource({ paths: ["many"], root });

    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const seen: string[] = [];
    for await (const d of source.preview!(new AbortController().signal)) {
      seen.push(d.path);
      if (seen.length % 1000 === 0) await new Promise((resolve) => setImmediate(resolve)); // a slow consumer
    }
    clearInterval(timer);
    assert.deepEqual(seen, ["many/", ...names.map((n) => `many/${n}`)]);
    assert.ok(ticks > 0, "the event loop kept turning");

    const controller = new AbortController();
    let after = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of source.preview!(controller.signal)) {
          if (++after === 10) controller.abort(new Error("stop"));
        }
      })(),
      /stop/,
    );
    assert.ok(after < count);
  });
});

test("describe() lists every selection option in force, for sov list", async (t) => {
  // as root the plugin trusts list files only in root-owned directories, never under /tmp
  const configDir = process.geteuid?.() === 0 ? trustedTempDir(t) : tempDir(t);
  writeFileSync(join(configDir, "ex.txt"), "*.iso\n# c\ntmp\n");
  writeFileSync(join(configDir, "in.txt"), "/srv\n");
  const hooks = createStageHooks();
  const run: RunInfo = { host: "test", startedAt: new Date(), dryRun: true, signal: new AbortController().signal };
  plugin.apply(
    hooks,
    {
      paths: ["/etc"],
      exclude: ["*.pyc"],
      exclude_caches: true,
      exclude_if_present: [".nobackup", ".sov-skip"],
      one_file_system: true,
      exclude_larger_than: "2G",
      exclude_from: "ex.txt",
      include_from: "in.txt",
    } as FsSourceOptions,
    { instance: "source", host: "test", configDir, log: silentLogger() },
  );
  const source = await hooks.source.promise(run);
  assert.deepEqual(source?.describe(), [
    "/etc",
    `/srv (from include_from ${join(configDir, "in.txt")})`,
    "excluding *.pyc",
    `excluding (exclude_from ${join(configDir, "ex.txt")}) *.iso, tmp`,
    "exclude_caches: a directory with a valid CACHEDIR.TAG is archived with the tag only",
    "exclude_if_present: a directory holding .nobackup or .sov-skip is left out",
    "one_file_system: directories on another filesystem are archived empty",
    "exclude_larger_than: 2G (2147483648 bytes): larger regular files are left out",
  ]);

  const plain = makeSource({ paths: ["/etc"] });
  assert.deepEqual(plain.describe(), ["/etc", "excluding nothing"], "options that are off are not shown");
});

test("a source of / is judged by its listing too: a cache tag or an exclude_if_present name at the root", async (t) => {
  const root = tempDir(t);
  put(root, "CACHEDIR.TAG", CACHEDIR_SIGNATURE);
  put(root, "data/f");
  const cache = await archiveAndPreview(t, { paths: ["/"], root, exclude_caches: true });
  assert.deepEqual(cache.members, ["CACHEDIR.TAG"]);
  assert.deepEqual(includedPaths(cache.decisions), cache.members);

  put(root, ".nobackup", "");
  const tagged = await archiveAndPreview(t, { paths: ["/"], root, exclude_if_present: [".nobackup"] });
  assert.deepEqual(tagged.members, []);
  assert.deepEqual(tagged.decisions, [{ path: "./", included: false, reason: "holds .nobackup" }]);
});
