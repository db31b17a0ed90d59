import { execa, type ResultPromise } from "execa";
import { RunError } from "@sov/core";

/** How to run rclone for one destination: the executable and the flags every call gets. */
export class RcloneCli {
  private readonly globalFlags: string[];

  constructor(readonly binary: string, configFile: string | undefined, private readonly env: Readonly<NodeJS.ProcessEnv>) {
    // Never prompt for a config password: a timer has nobody to answer.
    this.globalFlags = ["--ask-password=false", ...(configFile ? ["--config", configFile] : [])];
  }

  /** Runs a command to its end; returns stdout. Throws a RunError quoting rclone's last error line. */
  async run(args: string[], what: string): Promise<string> {
    try {
      const result = await execa(this.binary, [...this.globalFlags, ...args], { env: this.env, extendEnv: false, stdin: "ignore" });
      return result.stdout;
    } catch (err) {
      throw rcloneError(err, what);
    }
  }

  /** Starts a command whose stdin or stdout the caller streams; output is not buffered. */
  spawn(args: string[], stdio: { stdin: "pipe" | "ignore"; stdout: "pipe" | "ignore" }): ResultPromise<{ stdin: "pipe" | "ignore"; stdout: "pipe" | "ignore"; stderr: "pipe"; buffer: { stdout: false; stderr: true } }> {
    return execa(this.binary, [...this.globalFlags, ...args], {
      env: this.env,
      extendEnv: false,
      stdin: stdio.stdin,
      stdout: stdio.stdout,
      stderr: "pipe",
      buffer: { stdout: false, stderr: true },
    });
  }
}

/** rclone exits 3 for "directory not found" and 4 for "file not found". */
export function isNotFound(err: unknown): boolean {
  const code = (err as { cause?: { exitCode?: number } }).cause?.exitCode ?? (err as { exitCode?: number }).exitCode;
  return code === 3 || code === 4;
}

export function rcloneError(err: unknown, what: string): RunError {
  const e = err as { exitCode?: number; stderr?: string; shortMessage?: string; code?: string };
  // rclone prefixes its log lines with a timestamp: drop it, keep the reason.
  const lastLine = (e.stderr ?? "").trim().split("\n").filter(Boolean).pop()?.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "");
  const detail = lastLine ?? e.shortMessage ?? String(err);
  const hint = e.code === "ENOENT" ? " (is rclone installed? apt-get install rclone, or set binary)" : "";
  return new RunError(`rclone: ${what} failed${e.exitCode !== undefined ? ` (exit ${e.exitCode})` : ""}: ${detail}${hint}`, { cause: err });
}
