/**
 * Issue 15's scenarios: what an archive's index buys. `seek-restore` takes one ~10 KiB file back
 * out of the main corpus's archive (`sov restore --path`, which reads only the frames that hold
 * it) beside the stock way (`age -d | zstd -d | tar -x FILE`, which reads everything);
 * `seek-files` lists the small-files corpus's archive (`sov restore --files`, from the index)
 * beside `age -d | zstd -d | tar -tv`.
 */
import { lstatSync, readdirSync, readFileSync, rmSync, mkdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { CheckFailed, q } from "./check.js";
import type { Corpus } from "./corpus.js";
import { bashCommand, type BenchContext, type Scenario } from "./scenarios.js";

const MIB = 1024 * 1024;
/** The issue's bound on what one small file's restore may read. */
const MAX_READ = 16 * MIB;

/** The first file (in sorted walk order) of 8-16 KiB: a config file's size. */
function smallFileOf(corpus: Corpus): string {
  const walk = (dir: string): string | null => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path); // not through symlinks: the archive holds the link, not a path through it
      if (st.isDirectory()) {
        const found = walk(path);
        if (found) return found;
      } else if (st.isFile() && st.size >= 8 * 1024 && st.size <= 16 * 1024) return path;
    }
    return null;
  };
  const found = walk(corpus.dir);
  if (!found) throw new CheckFailed(`${corpus.describe} has no file of 8-16 KiB`);
  return found;
}

function sovOutput(ctx: BenchContext, name: string, run: number): string {
  return readFileSync(join(ctx.work, "logs", `${name}-sov-${run}.out`), "utf8") + readFileSync(join(ctx.work, "logs", `${name}-sov-${run}.err`), "utf8");
}

export function seekRestoreScenario(corpus: Corpus, input: () => string, ctx: BenchContext): Scenario {
  const dir = join(ctx.work, "seek-restore");
  const sovTarget = join(dir, "sov");
  const refTarget = join(dir, "ref");
  let archive = "";
  let file = "";
  let member = "";
  return {
    name: "seek-restore",
    title: "sov restore FILE TARGET --path ONE-SMALL-FILE  vs  age -d | zstd -d | tar -x ONE-SMALL-FILE",
    checks: `the restored file equals the corpus's; sov reads under ${MAX_READ / MIB} MiB of the archive (its own count)`,
    corpus,
    goals: { wallRatio: 1.0, wallS: 1.0, loopMs: 100 },
    setup() {
      archive = input();
      file = smallFileOf(corpus);
      member = `${corpus.dir.slice(1)}/${relative(corpus.dir, file)}`;
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(refTarget, { recursive: true });
    },
    sovArgs: () => ["restore", archive, sovTarget, "--path", member, "--identity", ctx.keys.identity],
    ref: () => bashCommand("age | zstd | tar -x FILE", `age -d -i ${q(ctx.keys.identity)} ${q(archive)} | zstd -d -c | tar -x -C ${q(refTarget)} ${q(member)}`),
    afterSov(run) {
      const out = sovOutput(ctx, "seek-restore", run);
      const read = Number(/read .* \((\d+) bytes\) of the/.exec(out)?.[1]);
      if (!(read < MAX_READ)) throw new CheckFailed(`run ${run}: sov read ${Number.isFinite(read) ? `${read} bytes` : "(no count in its output)"} of ${archive}, not under ${MAX_READ} bytes`);
      if (!readFileSync(join(sovTarget, member)).equals(readFileSync(file))) throw new CheckFailed(`run ${run}: ${member} restored differently`);
      if (run === 0) console.log(`   ${member}: ${statSync(file).size} bytes; sov read ${(read / MIB).toFixed(2)} MiB of the ${(statSync(archive).size / MIB).toFixed(0)} MiB archive`);
      rmSync(sovTarget, { recursive: true, force: true });
    },
    afterRef() {
      rmSync(refTarget, { recursive: true, force: true });
      mkdirSync(refTarget, { recursive: true });
    },
  };
}

export function seekFilesScenario(corpus: Corpus, input: () => string, ctx: BenchContext): Scenario {
  let archive = "";
  let entries = 0;
  return {
    name: "seek-files",
    title: "sov restore --files FILE  vs  age -d | zstd -d | tar -tv",
    checks: "sov lists as many entries as tar -t does",
    corpus,
    goals: { wallRatio: 1.0, wallS: 2.0, loopMs: 100 },
    setup() {
      archive = input();
    },
    sovArgs: () => ["restore", "--files", archive, "--identity", ctx.keys.identity],
    ref: () => bashCommand("age | zstd | tar -tv", `age -d -i ${q(ctx.keys.identity)} ${q(archive)} | zstd -d -c | tar -tv`),
    afterSov(run) {
      const listed = readFileSync(join(ctx.work, "logs", `seek-files-sov-${run}.out`), "utf8").split("\n").filter(Boolean).length;
      if (listed !== entries) throw new CheckFailed(`run ${run}: sov listed ${listed} entries, tar -t ${entries}`);
    },
    afterRef(run) {
      const listed = readFileSync(join(ctx.work, "logs", `seek-files-ref-${run}.out`), "utf8").split("\n").filter(Boolean).length;
      if (run === 0) {
        entries = listed;
        console.log(`   ${entries.toLocaleString("en")} entries`);
      }
    },
  };
}
