import type { Logger } from "./log.js";

/**
 * Runs a validated hook with no shell, no arguments and a small, explicit environment (the
 * run's facts as SOV_* variables), logging its output line by line. Resolves to its exit code.
 */
export async function runHookFile(path: string, env: Record<string, string>, log: Logger, signal?: AbortSignal): Promise<number> {
  // Loaded on first use: execa costs ~80 ms of start-up, and most runs have no hook.
  const { execa } = await import("execa");
  const child = execa(path, [], {
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    extendEnv: false,
    stdin: "ignore",
    all: true,
    buffer: false,
    reject: false,
    shell: false,
    ...(signal ? { cancelSignal: signal } : {}),
  });
  child.all?.setEncoding("utf8");
  let rest = "";
  child.all?.on("data", (text: string) => {
    const lines = (rest + text).split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) log.info(line);
  });
  const result = await child;
  if (rest) log.info(rest);
  if (result.failed && result.exitCode === undefined) {
    log.error(`${path}: ${result.shortMessage}`);
    return 126;
  }
  return result.exitCode ?? 1;
}
