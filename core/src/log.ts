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
  /** Only warnings and errors on the terminal (the log file still gets info). */
  quiet?: boolean;
  /** Appended to best effort: a log file that cannot be written never fails a backup. */
  file?: string | undefined;
  /** Send info lines to stderr too, keeping stdout for one JSON object (`--json`). */
  stdoutReserved?: boolean;
  /** Under systemd (JOURNAL_STREAM set) lines start with `<N>` so `journalctl -p` filters them. */
  journal?: boolean;
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** syslog priorities, as sd-daemon(3) prefixes read by journald. */
const SYSLOG_PRIORITY: Record<LogLevel, number> = { debug: 7, info: 6, warn: 4, error: 3 };
const LABEL: Record<LogLevel, string> = { debug: "[DEBUG]", info: "[INFO] ", warn: "[WARN] ", error: "[ERROR]" };

function clock(d: Date): string {
  return d.toTimeString().slice(0, 8);
}

/**
 * Lines like the bash tool's (`02:00:01 [INFO]  message`) on the terminal, with syslog
 * priority prefixes under journald, and ISO-timestamped lines in the log file.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const warnings: string[] = [];
  let fileBroken = false;
  const threshold = options.verbose ? LEVEL_RANK.debug : options.quiet ? LEVEL_RANK.warn : LEVEL_RANK.info;
  const journal = options.journal ?? !!process.env.JOURNAL_STREAM;

  const emit = (level: LogLevel, scope: string, message: string) => {
    const text = scope ? `${scope}: ${message}` : message;
    if (level === "warn") warnings.push(text);
    const now = new Date();
    if (LEVEL_RANK[level] >= threshold) {
      const line = journal ? `<${SYSLOG_PRIORITY[level]}>${LABEL[level]} ${text}\n` : `${clock(now)} ${LABEL[level]} ${text}\n`;
      const toStdout = level === "info" && !options.stdoutReserved;
      (toStdout ? process.stdout : process.stderr).write(line);
    }
    if (options.file && !fileBroken && level !== "debug") {
      try {
        appendFileSync(options.file, `${now.toISOString()} ${LABEL[level]} ${text}\n`, { mode: 0o640 });
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
