import { isAbsolute } from "node:path";
import { ConfigError } from "@sov/core";

/**
 * Values from the config end up in unit files that systemd runs as root. A newline there would
 * let whoever can write the config add `ExecStartPre=` lines, so every value is checked here and
 * written as one systemd "word": control characters refused, `%` (specifiers) doubled, quoted
 * with C escapes when it holds blanks or quotes.
 */
const CONTROL = /[\x00-\x1f\x7f]/;
const PLAIN = /^[A-Za-z0-9._/@+:,=~-]+$/;

function quote(word: string): string {
  return PLAIN.test(word) ? word : `"${word.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** An absolute, normalised path as one word of `ReadWritePaths=` or `RequiresMountsFor=`. */
export function unitPath(path: string, what: string): string {
  checkPath(path, what);
  return quote(path.replace(/%/g, "%%"));
}

/** One argument of `ExecStart=`: systemd also expands `$VAR` there, so `$` is doubled too. */
export function execArg(arg: string, what: string): string {
  if (CONTROL.test(arg)) throw new ConfigError(`${what}: ${JSON.stringify(arg)} holds a control character; it cannot go into a unit file`);
  const escaped = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return escaped === ";" ? '";"' : quote(escaped);
}

export function checkPath(path: string, what: string): void {
  if (CONTROL.test(path)) throw new ConfigError(`${what}: ${JSON.stringify(path)} holds a control character; it cannot go into a unit file`);
  if (!isAbsolute(path)) throw new ConfigError(`${what}: ${path} must be an absolute path`);
  if (path.split("/").some((part) => part === "." || part === "..")) {
    throw new ConfigError(`${what}: ${path} must not contain . or .. components`);
  }
}

/** systemd calendar expressions: weekdays, digits, `*-:,./~`, blanks and time zone names. */
const CALENDAR = /^[A-Za-z0-9*:,./~ _+-]+$/;
/** systemd time spans: `30min`, `1h 30min`, `90`, `0`. */
const TIMESPAN = /^[0-9][0-9A-Za-z .]*$/;

export function checkCalendar(value: string, what: string): string {
  const v = value.trim();
  if (!v || !CALENDAR.test(v)) {
    throw new ConfigError(`${what}: ${JSON.stringify(value)} is not a systemd calendar expression (e.g. "*-*-* 02:00:00", "daily", "Sun 04:00")`);
  }
  return v;
}

export function checkTimespan(value: string, what: string): string {
  const v = value.trim();
  if (!TIMESPAN.test(v)) throw new ConfigError(`${what}: ${JSON.stringify(value)} is not a systemd time span (e.g. 30min, 1h, 0)`);
  return v;
}
