/**
 * Reads the .cpuprofile files `node --cpu-prof` writes (one per thread) and says where the time
 * went: the functions with the most self time, and self time per module group (source-fs,
 * encrypt-age, zstd-napi, node streams, GC, ...).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  name: string;
  where: string;
  group: string;
  selfMs: number;
}

export interface ThreadProfile {
  file: string;
  /** Node's thread id from the file name: 0 is the main thread. */
  threadId: number;
  totalMs: number;
  functions: FunctionCost[];
  groups: Array<{ group: string; selfMs: number }>;
}

/** Shortens a script URL to something readable: `source-fs/dist/src/walker.js`, `node:internal/...`. */
function shortWhere(url: string, repo: string): string {
  if (!url) return "";
  let u = url.replace(/^file:\/\//, "");
  if (u.startsWith(`${repo}/`)) u = u.slice(repo.length + 1);
  return u.replace(/^node_modules\//, "").replace(/^plugins\//, "");
}

/** Which part of the pipeline a frame belongs to. */
export function groupOf(frame: CallFrame, repo: string): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === "(garbage collector)") return "GC";
    if (functionName === "(idle)") return "idle (waiting for I/O or other threads)";
    if (functionName === "(program)") return "native/VM (outside JS)";
    return `native: ${functionName || "?"}`;
  }
  const where = shortWhere(url, repo);
  const plugin = /^([a-z0-9-]+)\/(dist|src)\//.exec(where);
  if (plugin && where.startsWith(`${plugin[1]}/`) && !url.includes("/node_modules/")) return plugin[1]!;
  if (where.startsWith("core/")) return "core";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm: ${pkg[1]}`;
  if (url.startsWith("node:internal/streams") || url.startsWith("node:stream")) return "node: streams";
  if (url.startsWith("node:internal/webstreams")) return "node: web streams";
  if (url.startsWith("node:internal/modules") || url.startsWith("node:internal/bootstrap") || url.startsWith("node:internal/main")) {
    return "node: module loading, startup";
  }
  if (url === "node:buffer" || url.startsWith("node:internal/buffer")) return "node: Buffer (copy, concat, alloc)";
  if (url.startsWith("node:internal/fs") || url.startsWith("node:fs")) return "node: fs";
  if (url.startsWith("node:internal/crypto") || url.startsWith("node:crypto")) return "node: crypto";
  if (url.startsWith("node:internal/worker") || url.startsWith("node:worker")) return "node: worker/MessagePort";
  if (url.startsWith("node:")) return "node: other";
  return where;
}

export function readProfile(file: string, repo: string): ThreadProfile {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // A sample's time is the gap to the next sample (the last sample's gap is unknown: dropped).
  for (let i = 0; i < profile.samples.length - 1; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0));
  }
  const functions = new Map<string, FunctionCost>();
  const groups = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    const where = frame.url ? `${shortWhere(frame.url, repo)}:${frame.lineNumber + 1}` : "";
    const key = `${frame.functionName}\0${where}`;
    const group = groupOf(frame, repo);
    const fn = functions.get(key) ?? { name: frame.functionName || "(anonymous)", where, group, selfMs: 0 };
    fn.selfMs += us / 1000;
    functions.set(key, fn);
    groups.set(group, (groups.get(group) ?? 0) + us / 1000);
  }
  const threadId = Number(/\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1] ?? -1);
  return {
    file,
    threadId,
    totalMs: (profile.endTime - profile.startTime) / 1000,
    functions: [...functions.values()].sort((a, b) => b.selfMs - a.selfMs),
    groups: [...groups].map(([group, selfMs]) => ({ group, selfMs })).sort((a, b) => b.selfMs - a.selfMs),
  };
}

export function readProfiles(dir: string, repo: string): ThreadProfile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => readProfile(join(dir, f), repo))
    .sort((a, b) => a.threadId - b.threadId);
}

export function formatProfile(p: ThreadProfile, top = 15): string {
  const pct = (ms: number) => `${((100 * ms) / p.totalMs).toFixed(1).padStart(5)}%`;
  const lines = [
    `  thread ${p.threadId}${p.threadId === 0 ? " (main)" : " (worker)"}: ${(p.totalMs / 1000).toFixed(2)} s profiled  (${p.file})`,
    `    top ${top} functions by self time:`,
  ];
  for (const f of p.functions.slice(0, top)) {
    lines.push(`      ${f.selfMs.toFixed(0).padStart(7)} ms ${pct(f.selfMs)}  ${f.name.padEnd(34).slice(0, 34)} ${f.where}  [${f.group}]`);
  }
  lines.push("    self time by group:");
  for (const g of p.groups.slice(0, 12)) lines.push(`      ${g.selfMs.toFixed(0).padStart(7)} ms ${pct(g.selfMs)}  ${g.group}`);
  return lines.join("\n");
}
