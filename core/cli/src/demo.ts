import { mkdir, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { printSummary } from "./cli.js";
import { parseConfigText, createLogger, runBackup } from "@sov/core";
import { generateKeyPair } from "@sov/encrypt-age";

/** A small tree that exercises what a backup must keep: nesting, modes, a symlink, an empty dir. */
const DEMO_FILES: Record<string, string> = {
  "etc/app/app.conf": "# demo service config\nlisten = 127.0.0.1:8080\nworkers = 4\n",
  "etc/app/secrets.env": "API_TOKEN=demo-not-a-real-token\n",
  "srv/www/index.html": "<!doctype html><title>sov demo</title><p>backed up by sov</p>\n",
  "srv/www/node_modules/left-pad/index.js": "module.exports = (s) => s; // excluded by the demo config\n",
  "home/alice/notes.md": "# notes\n- the age identity lives offline, never on the host\n",
};

/**
 * `sov demo`: sov's main job on an embedded default, with no root. It writes demo data, a
 * throwaway age identity and a v2 config under DIR (default ./sov-demo), runs a backup, and
 * prints the stock-tool command that restores it.
 */
export async function runDemo(opts: { dir?: string | undefined; verbose: boolean }): Promise<number> {
  const dir = resolve(opts.dir ?? "sov-demo");
  const data = join(dir, "data");
  await rm(data, { recursive: true, force: true });
  for (const [rel, text] of Object.entries(DEMO_FILES)) {
    await mkdir(join(data, rel, ".."), { recursive: true });
    await writeFile(join(data, rel), text, { mode: rel.endsWith(".env") ? 0o600 : 0o644 });
  }
  await mkdir(join(data, "srv/www/uploads"), { recursive: true });
  await symlink("../../etc/app/app.conf", join(data, "srv/www/app.conf"));

  // A real deployment generates this once with `age-keygen` and keeps it offline.
  const identityFile = join(dir, "demo-identity.txt");
  const { identity, recipient } = await generateKeyPair();
  await writeFile(identityFile, `# sov demo identity: throwaway, never use for real backups\n${identity}\n`, { mode: 0o600 });

  const configFile = join(dir, "sov.yaml");
  const configText = `# sov demo config (the v2 format); see README.md for every key
version: 2
host: demo
source:
  plugin: fs
  root: ${data}
  paths: [etc, srv, home]
  exclude: ["*/node_modules"]
compress: { plugin: zstd, level: 3 }
# the public half of the key: all a host ever holds (a real host names a root-owned file,
# recipients_file: /etc/sovereign-backup/age-recipient, which sov checks like a hook)
encrypt: { plugin: age, recipients: [${recipient}] }
destinations:
  - name: local
    plugin: local
    path: ${join(dir, "backups")}
    retention: { days: 30 }
`;
  await writeFile(configFile, configText);

  const env = { ...process.env, SOVEREIGN_BACKUP_LOCKDIR: join(dir, "run", "lock") };
  const log = createLogger({ verbose: opts.verbose, file: join(dir, "sov.log") });
  log.info(`demo: backing up ${data} with ${configFile}`);
  const result = await runBackup({ config: parseConfigText(configFile, configText, log), env, log });
  printSummary(result, log);
  const archive = result.destinations.find((d) => d.archive)?.archive;
  if (archive) {
    const out = join(dir, "restored");
    await rm(out, { recursive: true, force: true });
    log.info("");
    log.info("restore it with stock tools, no sov needed:");
    log.info(`  mkdir -p ${out} && age -d -i ${identityFile} ${archive.location} | zstd -d | tar -x -C ${out}`);
    log.info(`archives so far: ${(await readdir(join(dir, "backups"))).filter((n) => n.endsWith(".age")).length} in ${join(dir, "backups")}`);
  }
  return result.exitCode;
}
