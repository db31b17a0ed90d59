// Running the build's commands: each one echoed, and a failure names the command and its output.
import { spawnSync } from "node:child_process";

/** Runs `command args` and returns its stdout; throws with the command and stderr when it fails. */
export function run(command, args, opts = {}) {
  if (!opts.quiet) console.log(`$ ${[command, ...args].join(" ")}`);
  const res = spawnSync(command, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"], ...opts });
  if (res.error) throw new Error(`${command}: ${res.error.message}`);
  if (res.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${res.status}\n${res.stdout ?? ""}${res.stderr ?? ""}`);
  }
  return res.stdout;
}
