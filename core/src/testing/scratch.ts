import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

/**
 * A directory for one test, removed after it. As root it lies under /run/sov-test (root-owned,
 * 0755 all the way up), because files sov trusts (hooks, key and config files, binaries) are
 * refused under a world-writable parent such as /tmp.
 */
export function trustedScratch(t: TestContext, label: string): string {
  const root = process.geteuid?.() === 0;
  const base = root ? "/run/sov-test" : tmpdir();
  if (root) {
    mkdirSync(base, { recursive: true, mode: 0o755 });
    chmodSync(base, 0o755);
  }
  const dir = mkdtempSync(join(base, `${label}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
