import type { Schedule } from "./schedule.js";
import { execArg, unitPath } from "./unit-syntax.js";

/** The units `sov install` writes, in the order it writes them. */
export const UNIT_NAMES = ["sov-backup.service", "sov-backup.timer", "sov-backup-usb.service", "sov-verify.service", "sov-verify.timer"] as const;
export type UnitName = (typeof UNIT_NAMES)[number];
export type UnitTexts = Readonly<Record<UnitName, string>>;

/** Everything the unit texts depend on; all paths are as the running system sees them. */
export interface UnitOptions {
  /** The installed wrapper, e.g. /usr/local/bin/sov. */
  readonly sovCommand: string;
  /** Passed as `--config` when the operator installed with one; null lets sov search /etc/sovereign-backup. */
  readonly configPath: string | null;
  /** Destinations the daily timer writes: every one that needs no USB stick. */
  readonly backupTargets: readonly string[];
  /** Destinations on the USB stick (`sov-backup-usb.service`). */
  readonly usbTargets: readonly string[];
  /** Directories of the local destinations: writable, and their mounts required. */
  readonly localDestinations: readonly string[];
  /** Further paths sov may write if they exist (the metrics textfile's directory). */
  readonly optionalWritablePaths: readonly string[];
  /** Where the stick is mounted (one per USB destination, usually just /mnt/sov-backup). */
  readonly usbMountPoints: readonly string[];
  readonly logFile: string;
  readonly schedule: Schedule;
}

/** The command `sov-verify.service` runs: it checks archives without the (offline) private key. */
export const VERIFY_ARGS = ["verify", "--storage"] as const;

const GENERATED = [
  '# Read the README, "Install and schedule".',
  "# Written by `sov install` from the config: change the config and re-run `sov install` rather",
  "# than editing this file. Local additions belong in a drop-in (systemctl edit <unit>), which",
  "# `sov install` never touches.",
];

/** The unit texts for `opts`: pure, so tests and `--dry-run` see exactly what would be written. */
export function renderUnits(opts: UnitOptions): UnitTexts {
  const usbTargets = opts.usbTargets.length ? opts.usbTargets : ["usb"];
  // With only a USB destination the daily run has to mount the stick, so it gets that sandbox.
  const dailyNeedsStick = opts.backupTargets.length === 0;
  return {
    "sov-backup.service": backupService(opts, {
      header: `# sov-backup.service: one encrypted backup run (sov run --target ${(dailyNeedsStick ? usbTargets : opts.backupTargets).join(",")}).`,
      started: "# Started daily by sov-backup.timer.",
      description: dailyNeedsStick ? "sov: encrypted backup to the USB stick (daily)" : "sov: encrypted backup to this host's destinations",
      targets: dailyNeedsStick ? usbTargets : opts.backupTargets,
      mountsStick: dailyNeedsStick,
    }),
    "sov-backup.timer": timer(opts.schedule.backupCalendar, opts.schedule.backupRandomizedDelay, {
      header: "# sov-backup.timer: starts sov-backup.service every day.",
      description: "sov: daily encrypted backup",
      unit: "sov-backup.service",
    }),
    "sov-backup-usb.service": backupService(opts, {
      header: `# sov-backup-usb.service: one encrypted backup run to the USB stick (sov run --target ${usbTargets.join(",")}).`,
      started: "# No timer: start it by hand when the stick is in (systemctl start sov-backup-usb.service).",
      description: "sov: encrypted backup to the USB stick",
      targets: usbTargets,
      mountsStick: true,
    }),
    "sov-verify.service": verifyService(opts),
    "sov-verify.timer": timer(opts.schedule.verifyCalendar, opts.schedule.verifyRandomizedDelay, {
      header: "# sov-verify.timer: starts sov-verify.service once a week.",
      description: "sov: weekly check of the newest archives",
      unit: "sov-verify.service",
    }),
  };
}

function execStart(opts: UnitOptions, args: readonly string[]): string {
  const config = opts.configPath ? ["--config", opts.configPath] : [];
  return `ExecStart=${[opts.sovCommand, ...args.slice(0, 1), ...config, ...args.slice(1)].map((a) => execArg(a, "unit command")).join(" ")}`;
}

function lines(...parts: Array<string | readonly string[] | false>): string {
  return `${parts.flatMap((p) => (p === false ? [] : p)).join("\n")}\n`;
}

interface BackupServiceText {
  header: string;
  started: string;
  description: string;
  targets: readonly string[];
  mountsStick: boolean;
}

function backupService(opts: UnitOptions, s: BackupServiceText): string {
  const writable = s.mountsStick
    ? [...opts.usbMountPoints.map((p) => unitPath(p, "USB mount point")), "-/run/mount"]
    : opts.localDestinations.map((p) => unitPath(p, "local destination"));
  return lines(
    s.header,
    s.started,
    GENERATED,
    "",
    "[Unit]",
    `Description=${s.description}`,
    // Hooks and plugin destinations (sftp, ...) may need the network.
    "Wants=network-online.target",
    "After=network-online.target",
    !s.mountsStick && opts.localDestinations.length > 0 && `RequiresMountsFor=${opts.localDestinations.map((p) => unitPath(p, "local destination")).join(" ")}`,
    "",
    "[Service]",
    "Type=oneshot",
    execStart(opts, ["run", "--target", s.targets.join(",")]),
    "Nice=10",
    "IOSchedulingClass=idle",
    // A first full backup can take hours; a hung run must still end before the next day's.
    "TimeoutStartSec=12h",
    "UMask=0077",
    "",
    "# Sandbox. sov reads every source path but writes only the destinations, its log file and",
    "# its runtime (lock) and state directories; RuntimeDirectory= and StateDirectory= make those",
    "# two writable. Sources under /tmp or /var/tmp are not seen (PrivateTmp=). A hook that writes",
    "# elsewhere (a database dump) needs a drop-in: ReadWritePaths=/that/dir.",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    writable.map((p) => `ReadWritePaths=${p}`),
    opts.optionalWritablePaths.map((p) => `ReadWritePaths=-${unitPath(p, "writable path")}`),
    `ReadWritePaths=-${unitPath(opts.logFile, "log file")}`,
    runtimeAndState(),
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    s.mountsStick
      ? [
          "# Mounting the stick needs its block device, the mount system calls and CAP_SYS_ADMIN.",
          "# CAP_SYS_ADMIN could undo the read-only view, which is why the daily service, when it",
          "# has a local destination, runs without it and this unit is started only by hand.",
          "DevicePolicy=closed",
          "DeviceAllow=block-sd rw",
          "CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_ADMIN",
          "SystemCallFilter=@system-service @mount",
        ]
      : [
          "PrivateDevices=yes",
          "# Reading files whatever their owner and mode needs CAP_DAC_READ_SEARCH; sov writes only",
          "# root-owned directories, so it needs no other capability.",
          "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
          "SystemCallFilter=@system-service",
        ],
    commonHardening(),
  );
}

function verifyService(opts: UnitOptions): string {
  return lines(
    `# sov-verify.service: checks the newest archive of each destination (sov ${VERIFY_ARGS.join(" ")})`,
    "# without the private key, which stays offline. Started weekly by sov-verify.timer.",
    GENERATED,
    "",
    "[Unit]",
    "Description=sov: verify the newest archive of each destination",
    "After=sov-backup.service",
    opts.localDestinations.length > 0 && `RequiresMountsFor=${opts.localDestinations.map((p) => unitPath(p, "local destination")).join(" ")}`,
    "",
    "[Service]",
    "Type=oneshot",
    execStart(opts, VERIFY_ARGS),
    "Nice=10",
    "IOSchedulingClass=idle",
    "TimeoutStartSec=12h",
    "UMask=0077",
    "",
    "# Sandbox. Verifying only reads the archives: the destinations stay read-only here.",
    "ProtectSystem=strict",
    "ProtectHome=read-only",
    `ReadWritePaths=-${unitPath(opts.logFile, "log file")}`,
    runtimeAndState(),
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "PrivateDevices=yes",
    "CapabilityBoundingSet=CAP_DAC_READ_SEARCH",
    "SystemCallFilter=@system-service",
    commonHardening(),
  );
}

function runtimeAndState(): string[] {
  return [
    // Both services name the same directory; preserving it keeps one from removing it under the other.
    "RuntimeDirectory=sovereign-backup",
    "RuntimeDirectoryMode=0750",
    "RuntimeDirectoryPreserve=yes",
    "StateDirectory=sovereign-backup",
    "StateDirectoryMode=0750",
  ];
}

function commonHardening(): string[] {
  return [
    "SystemCallFilter=~@privileged @resources",
    "SystemCallErrorNumber=EPERM",
    "SystemCallArchitectures=native",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "LockPersonality=yes",
    "ProtectKernelTunables=yes",
    "ProtectKernelModules=yes",
    "ProtectKernelLogs=yes",
    "ProtectControlGroups=yes",
    "ProtectClock=yes",
    "ProtectHostname=yes",
    "ProtectProc=invisible",
    "# MemoryDenyWriteExecute= stays off on purpose: Node's JIT compiler needs memory that is",
    "# writable and executable, and with it set node is killed before sov starts.",
  ];
}

interface TimerText {
  header: string;
  description: string;
  unit: string;
}

function timer(calendar: readonly string[], delay: string, t: TimerText): string {
  return lines(
    t.header,
    "# The times come from the config's schedule keys.",
    GENERATED,
    "",
    "[Unit]",
    `Description=${t.description}`,
    "",
    "[Timer]",
    calendar.map((c) => `OnCalendar=${c}`),
    `RandomizedDelaySec=${delay}`,
    // A run missed while the machine was off starts at the next boot.
    "Persistent=true",
    `Unit=${t.unit}`,
    "",
    "[Install]",
    "WantedBy=timers.target",
  );
}
