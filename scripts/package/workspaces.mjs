// Which workspace packages a release ships, read from their package.json files (never from
// paths written here): every package with a `sov` bin, and the workspace packages they need.
import { run } from "./exec.mjs";

/**
 * The packages to release: those whose `bin` has `sov`, plus every workspace package reachable
 * through their dependencies and peer dependencies. Each: { name, version, path, bin }.
 */
export function releasePackages(root) {
  const all = JSON.parse(run("npm", ["query", ".workspace"], { cwd: root, quiet: true }));
  const byName = new Map(all.map((p) => [p.name, p]));
  const commands = all.filter((p) => p.bin && typeof p.bin === "object" && "sov" in p.bin);
  if (commands.length === 0) throw new Error("no workspace package has a `sov` bin: which package is the sov command?");
  const chosen = new Map();
  const visit = (pkg) => {
    if (chosen.has(pkg.name)) return;
    if (pkg.private) throw new Error(`${pkg.name} (${pkg.path}) is private but the sov command needs it`);
    chosen.set(pkg.name, pkg);
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]) {
      const workspace = byName.get(dep);
      if (workspace) visit(workspace);
    }
  };
  commands.forEach(visit);
  return {
    commands: commands.map(describe),
    packages: [...chosen.values()].map(describe).sort((a, b) => a.name.localeCompare(b.name)),
  };
}

function describe(p) {
  return { name: p.name, version: p.version, path: p.path, bin: p.bin ?? {} };
}
