import { appendFileSync } from "node:fs";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A logger whose lines name `scope` (a plugin, a destination). */
  child(scope: string): Logger;
  /** Every warning logged so far through this logger or its children, for the run summary. */
  readonly warnings: string[];
}

export interface LoggerOptions {
  verbose?: boolean;
  quiet?: boolean;
  /** Appended to best effort: a log file that cannot be written never fails a backup. */
  file?: string | undefined;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(options: LoggerOptions = {}): Logger {
  const warnings: string[] = [];
  let fileBroken = false;
  const threshold = options.verbose ? LEVEL_RANK.debug : options.quiet ? LEVEL_RANK.warn : LEVEL_RANK.info;

  const emit = (level: LogLevel, scope: string, message: string) => {
    const text = scope ? `${scope}: ${message}` : message;
    if (level === "warn") warnings.push(text);
    if (LEVEL_RANK[level] >= threshold) {
      const line = level === "info" ? `${text}\n` : `${level}: ${text}\n`;
      (level === "info" || level === "debug" ? process.stdout : process.stderr).write(line);
    }
    if (options.file && !fileBroken && level !== "debug") {
      try {
        appendFileSync(options.file, `${new Date().toISOString()} ${level.toUpperCase()} ${text}\n`, { mode: 0o640 });
      } catch {
        fileBroken = true;
      }
    }
  };

  const make = (scope: string): Logger => ({
    debug: (m) => emit("debug", scope, m),
    info: (m) => emit("info", scope, m),
    warn: (m) => emit("warn", scope, m),
    error: (m) => emit("error", scope, m),
    child: (s) => make(scope ? `${scope}/${s}` : s),
    warnings,
  });
  return make("");
}

/** A logger that records warnings but prints nothing: for tests and library use. */
export function silentLogger(): Logger {
  const warnings: string[] = [];
  const make = (scope: string): Logger => ({
    debug: () => {},
    info: () => {},
    warn: (m) => warnings.push(scope ? `${scope}: ${m}` : m),
    error: () => {},
    child: (s) => make(scope ? `${scope}/${s}` : s),
    warnings,
  });
  return make("");
}
