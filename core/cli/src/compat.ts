import { version } from "./build-info.js";
import { main } from "./cli.js";

/**
 * `sovereign-backup`, the bash tool's command, with its flags unchanged: no sub-command, `--list`
 * prints the configuration, everything else is `sov run`. Existing units and habits keep working.
 */
export async function sovereignBackup(argv: string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`sovereign-backup ${version()} (sov)\n`);
    return 0;
  }
  if (argv.includes("--help") || argv.includes("-h")) return main(["--help"]);
  if (argv.includes("--list")) return main(["list", ...argv.filter((a) => a !== "--list" && a !== "--once" && a !== "--dry-run")]);
  return main(["run", ...argv]);
}

/** `sovereign-restore`, the bash tool's restore command: `sov restore` with the same arguments. */
export async function sovereignRestore(argv: string[]): Promise<number> {
  if (argv.includes("--version")) {
    process.stdout.write(`sovereign-restore ${version()} (sov)\n`);
    return 0;
  }
  return main(["restore", ...argv]);
}
