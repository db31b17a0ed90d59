import { spawnSync } from "node:child_process";
import { ConfigError, type Logger } from "@sov/core";
import { checkCalendar, checkTimespan } from "./unit-syntax.js";

/** When the timers fire. Every value is already checked for the unit file. */
export interface Schedule {
  /** `OnCalendar=` of sov-backup.timer; several lines when a list was given. */
  readonly backupCalendar: readonly string[];
  readonly backupRandomizedDelay: string;
  readonly verifyCalendar: readonly string[];
  readonly verifyRandomizedDelay: string;
}

export const DEFAULT_SCHEDULE: Schedule = {
  backupCalendar: ["*-*-* 02:00:00"],
  backupRandomizedDelay: "30min",
  verifyCalendar: ["Sun *-*-* 05:00:00"],
  verifyRandomizedDelay: "1h",
};

/**
 * The config's `schedule:` keys. sov's own names come first; the bash tool's (`local_calendar`,
 * `local_random_delay`) and the short `time: "HH:MM"` are read too, so a v0.1 config keeps its
 * timer. A run never reads these keys; only `sov install` does.
 */
const KEYS = {
  backupCalendar: ["on_calendar", "local_calendar", "time"],
  backupRandomizedDelay: ["randomized_delay", "local_random_delay"],
  verifyCalendar: ["verify_calendar"],
  verifyRandomizedDelay: ["verify_randomized_delay"],
} as const;

const ALL_KEYS: readonly string[] = Object.values(KEYS).flat();

export function scheduleFromConfig(raw: Readonly<Record<string, unknown>>, file: string, log: Logger): Schedule {
  for (const key of Object.keys(raw)) {
    if (!ALL_KEYS.includes(key)) log.warn(`${file}: schedule.${key} is not a schedule key sov knows (${ALL_KEYS.join(", ")}); ignored`);
  }
  const pick = (names: readonly string[]): [string, unknown] | null => {
    const present = names.filter((n) => raw[n] !== undefined && raw[n] !== null && raw[n] !== "");
    if (present.length > 1) throw new ConfigError(`${file}: schedule.${present.join(" and schedule.")} say the same thing; keep one`);
    const name = present[0];
    return name === undefined ? null : [name, raw[name]];
  };
  const calendar = (names: readonly string[], fallback: readonly string[]): readonly string[] => {
    const found = pick(names);
    if (!found) return fallback;
    const [key, value] = found;
    const what = `${file}: schedule.${key}`;
    if (key === "time") return [timeOfDay(value, what)];
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || list.some((v) => typeof v !== "string")) throw new ConfigError(`${what} must be a calendar expression or a list of them`);
    return list.map((v: string) => checkCalendar(v, what));
  };
  const timespan = (names: readonly string[], fallback: string): string => {
    const found = pick(names);
    if (!found) return fallback;
    const [key, value] = found;
    const what = `${file}: schedule.${key}`;
    if (typeof value === "number" && Number.isInteger(value) && value >= 0) return `${value}s`;
    if (typeof value !== "string") throw new ConfigError(`${what} must be a time span such as 30min`);
    return checkTimespan(value, what);
  };
  return {
    backupCalendar: calendar(KEYS.backupCalendar, DEFAULT_SCHEDULE.backupCalendar),
    backupRandomizedDelay: timespan(KEYS.backupRandomizedDelay, DEFAULT_SCHEDULE.backupRandomizedDelay),
    verifyCalendar: calendar(KEYS.verifyCalendar, DEFAULT_SCHEDULE.verifyCalendar),
    verifyRandomizedDelay: timespan(KEYS.verifyRandomizedDelay, DEFAULT_SCHEDULE.verifyRandomizedDelay),
  };
}

/** `time: "02:00"` (or "2:00:30") means every day at that time. */
function timeOfDay(value: unknown, what: string): string {
  const m = typeof value === "string" ? /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim()) : null;
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) {
    throw new ConfigError(`${what}: ${JSON.stringify(value)} is not a time of day (HH:MM)`);
  }
  return `*-*-* ${m[1]!.padStart(2, "0")}:${m[2]}:${m[3] ?? "00"}`;
}

/**
 * The character checks keep the unit file safe; whether systemd understands the expression is
 * asked of `systemd-analyze` when it is installed, so a typo fails `sov install`, not the timer.
 */
export function checkScheduleWithSystemd(schedule: Schedule, file: string): void {
  const probe = spawnSync("systemd-analyze", ["--version"], { stdio: "ignore" });
  if (probe.error || probe.status !== 0) return;
  const ask = (args: string[], value: string, what: string) => {
    const res = spawnSync("systemd-analyze", [...args, "--", value], { encoding: "utf8" });
    if (res.status !== 0) throw new ConfigError(`${file}: ${what} ${JSON.stringify(value)}: ${(res.stderr || "").trim() || "systemd-analyze refused it"}`);
  };
  for (const c of schedule.backupCalendar) ask(["calendar", "--iterations=1"], c, "backup calendar");
  for (const c of schedule.verifyCalendar) ask(["calendar", "--iterations=1"], c, "verify calendar");
  ask(["timespan"], schedule.backupRandomizedDelay, "backup randomized delay");
  ask(["timespan"], schedule.verifyRandomizedDelay, "verify randomized delay");
}
