import { chmodSync, linkSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { ageKeypair, scratch, sov, type SovResult } from "../helpers.js";

export interface Fixture {
  dir: string;
  /** The tree that is backed up; the archive holds it as `<data without leading />/...`. */
  data: string;
  backups: string;
  identity: string;
  recipient: string;
  recipientsFile: string;
  configFile: string;
  env: Record<string, string>;
  lockDir: string;
  /** Writes a v0.1 config, with `extra` lines appended or `replace` applied. */
  writeConfig(opts?: { compressor?: string; extra?: string; sources?: string[]; localDays?: number }): void;
  /** Writes a v2 config backing up the fixture's data to its recipients; `rest` adds the other keys. */
  writeV2Config(rest: string): void;
  run(args?: string[], env?: Record<string, string>): SovResult;
  /** Archive names in the backup directory (checksum sidecars and other files left out). */
  archives(): string[];
  /** Every file in the backup directory. */
  files(): string[];
}

/** A source tree with the things a backup must keep: modes, mtimes, links, odd names, empty dirs. */
export function populateTree(data: string): void {
  const file = (rel: string, content: string | Buffer, mode = 0o644) => {
    mkdirSync(join(data, rel, ".."), { recursive: true });
    writeFileSync(join(data, rel), content);
    chmodSync(join(data, rel), mode);
  };
  file("etc/app.conf", "listen = 127.0.0.1\n");
  file("etc/secret.key", "k3y\n", 0o600);
  file("bin/tool", "#!/bin/sh\necho hi\n", 0o755);
  file("big/random.bin", randomBytes(3 * 1024 * 1024 + 17));
  file("big/zeros.bin", Buffer.alloc(512 * 1024));
  file("odd/äöü 日本 name.txt", "unicode\n");
  file(`long/${"d".repeat(90)}/${"n".repeat(120)}.txt`, "long path\n");
  file("empty-file", "");
  file("app/node_modules/dep/index.js", "excluded\n");
  file("app/cache.pyc", "excluded\n");
  mkdirSync(join(data, "empty-dir/nested-empty"), { recursive: true });
  symlinkSync("../etc/app.conf", join(data, "bin/conf-link"));
  symlinkSync("/nonexistent/target", join(data, "bin/dangling"));
  linkSync(join(data, "etc/app.conf"), join(data, "etc/app.conf.hardlink"));
  utimesSync(join(data, "etc/app.conf"), 1_500_000_000, 1_500_000_000);
  utimesSync(join(data, "bin/tool"), 1_600_000_000, 1_600_000_000);
}

export function makeFixture(t: TestContext, label: string): Fixture {
  const dir = scratch(t, label);
  const data = join(dir, "data");
  populateTree(data);
  const { identity, recipient } = ageKeypair(dir);
  const recipientsFile = join(dir, "recipients.txt");
  writeFileSync(recipientsFile, `# host recipients\n${recipient}\n`);
  const etc = join(dir, "etc");
  mkdirSync(etc);
  const backups = join(dir, "backups");
  const lockDir = join(dir, "run", "lock");
  const configFile = join(etc, "config.yaml");
  const env = {
    SOVEREIGN_BACKUP_CONFIG_DIR: etc,
    SOVEREIGN_BACKUP_LOCKDIR: lockDir,
    SOVEREIGN_BACKUP_LOG: join(dir, "sov.log"),
  };
  const fx: Fixture = {
    dir, data, backups, identity, recipient, recipientsFile, configFile, env, lockDir,
    writeConfig(opts = {}) {
      const sources = (opts.sources ?? [data]).map((s) => `  - ${s}`).join("\n");
      writeFileSync(
        configFile,
        `host: testhost
sources:
${sources}
exclusions:
  - "*/node_modules"
  - "*.pyc"
destinations:
  local: ${backups}
retention:
  local_days: ${opts.localDays ?? 0}
age_recipient: ${recipientsFile}
compressor: ${opts.compressor ?? "auto"}
${opts.extra ?? ""}
`,
      );
    },
    writeV2Config(rest) {
      writeFileSync(
        configFile,
        `version: 2
host: testhost
source: { plugin: fs, paths: [${data}] }
encrypt: { plugin: age, recipients_file: ${recipientsFile} }
${rest}`,
      );
    },
    run(args = ["run"], extraEnv = {}) {
      return sov(args, { ...env, ...extraEnv });
    },
    archives() {
      return fx.files().filter((name) => name.endsWith(".age"));
    },
    files() {
      try {
        return readdirSync(backups).sort();
      } catch {
        return [];
      }
    },
  };
  fx.writeConfig();
  return fx;
}
