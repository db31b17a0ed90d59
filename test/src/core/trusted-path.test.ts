import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { checkTrustedFile, ConfigError } from "@sov/core";
import { needRoot, scratch } from "../helpers.js";

const check = (path: string) => checkTrustedFile(path, "pre_hook", { executable: true });
const refused = (re: RegExp) => (err: Error) => err instanceof ConfigError && err.exitCode === 2 && re.test(err.message);

test("a hook must be an absolute path without '..' to an executable regular file", async (t) => {
  const dir = scratch(t, "hooks");
  const hook = join(dir, "hook.sh");
  writeFileSync(hook, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
  await check(hook);
  await assert.rejects(check("hook.sh"), refused(/not an absolute path/));
  await assert.rejects(check(`${dir}/../${dir.split("/").pop()}/hook.sh`), refused(/contains '\.\.'/));
  await assert.rejects(check(join(dir, "missing.sh")), refused(/does not exist/));
  symlinkSync(hook, join(dir, "link.sh"));
  await assert.rejects(check(join(dir, "link.sh")), refused(/is a symlink/));
  mkdirSync(join(dir, "adir"));
  await assert.rejects(check(join(dir, "adir")), refused(/not a regular file/));
  writeFileSync(join(dir, "noexec.sh"), "#!/bin/sh\n", { mode: 0o644 });
  await assert.rejects(check(join(dir, "noexec.sh")), refused(/not executable/));
});

test("as root, the hook and its parent directories must be root-owned and not group/world-writable", async (t) => {
  if (!needRoot(t)) return;
  const dir = scratch(t, "hookowner");
  const hook = join(dir, "hook.sh");
  writeFileSync(hook, "#!/bin/sh\n", { mode: 0o755 });
  chownSync(hook, 65534, 65534);
  await assert.rejects(check(hook), refused(/owned by uid 65534/));
  chownSync(hook, 0, 0);
  chmodSync(hook, 0o775);
  await assert.rejects(check(hook), refused(/writable by group or others/));
  chmodSync(hook, 0o755);
  await check(hook);
  const sub = join(dir, "sub");
  mkdirSync(sub);
  writeFileSync(join(sub, "h.sh"), "#!/bin/sh\n", { mode: 0o755 });
  chmodSync(sub, 0o777);
  await assert.rejects(check(join(sub, "h.sh")), refused(/directory .*sub is writable by group or others/));
  chmodSync(sub, 0o755);
  chownSync(sub, 65534, 0);
  await assert.rejects(check(join(sub, "h.sh")), refused(/directory .*sub is owned by uid 65534/));
  await assert.rejects(check("/tmp/../tmp/x"), refused(/'\.\.'/));
});
