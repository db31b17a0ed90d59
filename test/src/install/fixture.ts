import { cpSync, existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { Logger } from "@sov/core";

export { EXAMPLE_CONFIG, install, installCommand, installedDestinations, renderUnits, unitOptionsFromConfig, UNIT_NAMES, VERIFY_ARGS } from "../../../core/cli/dist/src/install/index.js";

/** A logger that keeps every line, so a test can read what install said. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  const make = (): Logger => ({
    debug: () => {},
    info: (m) => lines.push(m),
    warn: (m) => {
      warnings.push(m);
      lines.push(`warn: ${m}`);
    },
    error: (m) => lines.push(`error: ${m}`),
    child: () => make(),
    warnings,
  });
  return { log: make(), lines };
}

export interface Entry {
  kind: "dir" | "file" | "symlink";
  mode: number;
  ino: bigint;
  mtimeNs: bigint;
  content?: string;
}

/** Every path under `root` with what would show a rewrite: inode (a rename makes a new one), mtime, mode, bytes. */
export function snapshot(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const st = lstatSync(path, { bigint: true });
      const kind = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file";
      const entry: Entry = { kind, mode: Number(st.mode & 0o7777n), ino: st.ino, mtimeNs: st.mtimeNs };
      if (kind === "file") entry.content = readFileSync(path, "utf8");
      out.set(relative(root, path), entry);
      if (kind === "dir") walk(path);
    }
  };
  walk(root);
  return out;
}

/**
 * `systemd-analyze verify --root=DIR` resolves ExecStart= and the units' default dependencies
 * (sysinit.target, timers.target, ...) inside DIR, so the system's own units are copied in.
 */
export function addSystemUnits(prefix: string): void {
  const source = ["/usr/lib/systemd/system", "/lib/systemd/system"].find((d) => existsSync(join(d, "sysinit.target")));
  if (!source) throw new Error("systemd-analyze is installed but its units (sysinit.target) were not found");
  cpSync(source, join(prefix, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
}
