import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";

/** Where the Debian 12 minbase tarball is kept between runs, so CI downloads it once per machine. */
export const DEBOOTSTRAP_CACHE = "/var/cache/sov-test/debootstrap-bookworm-minbase.tgz";

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Result {
  const res = spawnSync(command, args, { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  if (res.error) throw new Error(`${command}: ${res.error.message}`);
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

function mustRun(command: string, args: string[]): string {
  const res = runTool(command, args);
  if (res.code !== 0) throw new Error(`${command} ${args.join(" ")} exited ${res.code}:\n${res.stdout}${res.stderr}`);
  return res.stdout;
}

/** The Debian mirror apt uses here (the first bookworm, non-security source), so no other host is asked. */
export function debianMirror(): string {
  const files = ["/etc/apt/sources.list", ...listDir("/etc/apt/sources.list.d").map((f) => join("/etc/apt/sources.list.d", f))];
  for (const file of files.filter((f) => existsSync(f))) {
    const text = readFileSync(file, "utf8");
    // deb822 stanzas (.sources), then one-line entries (.list)
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = stanza.match(/^URIs:\s*(\S+)/m)?.[1];
      const suites = stanza.match(/^Suites:\s*(.+)$/m)?.[1]?.split(/\s+/) ?? [];
      if (uri && suites.includes("bookworm")) return uri;
    }
    for (const line of text.split("\n")) {
      const m = line.match(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/);
      if (m) return m[1]!;
    }
  }
  throw new Error("no bookworm source in /etc/apt/sources.list*: which Debian mirror should debootstrap use?");
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** A fresh Debian 12 minbase root in `root`, from the cached tarball (made on first use). */
export function debootstrapRoot(root: string, work: string): void {
  const mirror = debianMirror();
  if (!existsSync(DEBOOTSTRAP_CACHE)) {
    mkdirSync(join(DEBOOTSTRAP_CACHE, ".."), { recursive: true });
    const partial = `${DEBOOTSTRAP_CACHE}.${process.pid}`;
    mustRun("debootstrap", ["--variant=minbase", `--make-tarball=${partial}`, "bookworm", join(work, "make-tarball"), mirror]);
    renameSync(partial, DEBOOTSTRAP_CACHE);
  }
  mustRun("debootstrap", ["--variant=minbase", `--unpack-tarball=${DEBOOTSTRAP_CACHE}`, "bookworm", root, mirror]);
}

/** Every mount point at or below `root`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(root: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((p): p is string => !!p && (p === root || p.startsWith(`${root}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Mounts /proc and binds /dev (not recursively: one umount undoes it) inside `root`. */
export function mountSystem(root: string): void {
  mustRun("mount", ["-t", "proc", "proc", join(root, "proc")]);
  mustRun("mount", ["--bind", "/dev", join(root, "dev")]);
}

/** Unmounts everything below `root`; throws (so nothing is deleted through a mount) if one stays. */
export function unmountAll(root: string): void {
  for (const mount of mountsUnder(root)) {
    if (runTool("umount", [mount]).code !== 0) runTool("umount", ["-l", mount]);
  }
  const left = mountsUnder(root);
  if (left.length > 0) throw new Error(`still mounted, ${root} is left in place: ${left.join(", ")}`);
}

const CHROOT_ENV = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", HOME: "/root", LC_ALL: "C", DEBIAN_FRONTEND: "noninteractive" };

/** Runs a shell script inside `root`, with a clean environment (no node or npm leaks in from here). */
export function inRoot(root: string, script: string): Result {
  return runTool("chroot", [root, "/bin/sh", "-c", script], CHROOT_ENV);
}
