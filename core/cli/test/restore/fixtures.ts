import * as fs from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { hasTool, isRoot, q, sh } from "./helpers.js";

const T = (iso: string) => new Date(iso).getTime() / 1000;

/**
 * A tree with what a backup holds and a restore must reproduce: modes, mtimes, symlinks
 * (relative, absolute, dangling, to a directory), hard links, empty and read-only
 * directories, long names, Unicode and non-UTF-8 names, a FIFO, a setuid file, and (as root)
 * owners by number and by name.
 */
export function buildTree(root: string): void {
  fs.mkdirSync(root, { recursive: true });
  const p = (rel: string) => join(root, rel);
  const file = (rel: string, content: string | Buffer, mode = 0o644) => {
    fs.writeFileSync(p(rel), content);
    fs.chmodSync(p(rel), mode);
  };
  fs.mkdirSync(p("etc/nginx/sites"), { recursive: true });
  file("etc/nginx/nginx.conf", "worker_processes 1;\n");
  file("etc/nginx/sites/default.conf", "server {}\n", 0o640);
  file("etc/hostname", "box\n");
  file("run.sh", "#!/bin/sh\necho hi\n", 0o755);
  file("secret", "s3cret\n", 0o600);
  file("readonly", "ro\n", 0o444);
  file("empty", "");
  file("big.bin", randomBytes(3 * 1024 * 1024 + 123));
  file("ancient", "from before 1970\n");
  file("setuid-tool", "#!/bin/sh\n", 0o4755);
  fs.mkdirSync(p("emptydir"));
  fs.mkdirSync(p("private"), { mode: 0o700 });
  file("private/key", "k\n", 0o600);
  fs.mkdirSync(p("ro-dir"));
  file("ro-dir/inside", "x\n");
  fs.symlinkSync("etc/hostname", p("link-rel"));
  fs.symlinkSync("/etc/does-not-matter", p("link-abs"));
  fs.symlinkSync("nowhere/at/all", p("dangling"));
  fs.symlinkSync("etc/nginx", p("dirlink"));
  file("hard1", "shared inode\n");
  fs.linkSync(p("hard1"), p("hard2"));
  fs.linkSync(p("hard1"), p("etc/hard3"));
  const long = `${"a".repeat(120)}.txt`;
  file(long, "long name\n");
  const deep = ["x", "y", "z", "w"].map((c) => c.repeat(70)).join("/");
  fs.mkdirSync(p(deep), { recursive: true });
  file(`${deep}/${"f".repeat(90)}`, "deep and long\n");
  fs.symlinkSync(`${"t".repeat(150)}/target`, p("long-link"));
  file("übung-日本語-🎉.txt", "unicode\n");
  // A Latin-1 name, not valid UTF-8: restored byte for byte, as GNU tar does.
  fs.writeFileSync(Buffer.from(`${root}/latin1-\xe9.txt`, "latin1"), "latin1\n");
  if (hasTool("mkfifo")) sh(`mkfifo -m 0640 ${q(p("fifo"))}`);
  if (isRoot) {
    file("owned-numeric", "n\n");
    fs.chownSync(p("owned-numeric"), 4321, 8765);
    fs.lchownSync(p("link-rel"), 4321, 8765);
    file("owned-daemon", "d\n");
    fs.chownSync(p("owned-daemon"), 1, 1); // daemon:daemon on Debian-like systems
    fs.chownSync(p("private"), 4321, 8765);
    if (hasTool("mknod")) sh(`mknod -m 0620 ${q(p("devnull"))} c 1 3`);
  }
  fs.chmodSync(p("ro-dir"), 0o555);
  fs.chmodSync(p("etc/nginx"), 0o750);
  // Fixed times everywhere, children before parents (writing into a directory changes its mtime).
  const all: string[] = [];
  const walk = (dir: Buffer) => {
    for (const name of fs.readdirSync(dir, { encoding: "buffer" }) as Buffer[]) {
      const child = Buffer.concat([dir, Buffer.from("/"), name]);
      if (fs.lstatSync(child).isDirectory()) walk(child);
      all.push(child.toString("latin1"));
    }
  };
  walk(Buffer.from(root));
  let t = T("2021-03-04T05:06:07Z");
  for (const path of all) fs.lutimesSync(Buffer.from(path, "latin1"), t, (t += 3600));
  fs.utimesSync(p("ancient"), t, T("1960-01-01T00:00:00Z")); // a negative time: GNU base-256, PAX "-..."
  fs.utimesSync(root, t, T("2020-01-01T00:00:00Z"));
}
