import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, parseConfigText } from "@sov/core";
import { captureLog, EXAMPLE_CONFIG, installedDestinations, renderUnits, unitOptionsFromConfig, VERIFY_ARGS } from "./fixture.js";

const SOV = "/usr/local/bin/sov";

/** The units for a config, with its destination plugins loaded as sov install loads them. */
async function unitsFor(yaml: string, configPath: string | null = null) {
  const { log, lines } = captureLog();
  const config = parseConfigText("/etc/sovereign-backup/config.yaml", yaml, log);
  const destinations = await installedDestinations(config, log);
  const units = renderUnits(unitOptionsFromConfig(config, destinations, { sovCommand: SOV, configPath }, log));
  return { units, lines };
}

/** The value lines of `key` in a unit (comments skipped). */
function values(text: string, key: string): string[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1));
}

const V01_LOCAL_AND_USB = `sources: [/etc, /home]
destinations:
  local: /data/backups
  usb_label: SOVBACKUP
age_recipient: /etc/sovereign-backup/age-recipient
metrics_textfile: /var/lib/node_exporter/textfile/sov.prom
`;

test("the daily service reads everything, writes only its destinations, and cannot mount", async () => {
  const { units } = await unitsFor(V01_LOCAL_AND_USB);
  const daily = units["sov-backup.service"];
  assert.deepEqual(values(daily, "ExecStart"), [`${SOV} run --target local`]);
  for (const [key, value] of [
    ["Type", "oneshot"],
    ["Nice", "10"],
    ["IOSchedulingClass", "idle"],
    ["ProtectSystem", "strict"],
    ["ProtectHome", "read-only"],
    ["PrivateTmp", "yes"],
    ["PrivateDevices", "yes"],
    ["NoNewPrivileges", "yes"],
    ["RuntimeDirectory", "sovereign-backup"],
    ["RuntimeDirectoryMode", "0750"],
    ["StateDirectory", "sovereign-backup"],
    ["SystemCallArchitectures", "native"],
    ["CapabilityBoundingSet", "CAP_DAC_READ_SEARCH"],
  ]) {
    assert.deepEqual(values(daily, key!), [value], key);
  }
  assert.deepEqual(values(daily, "ReadWritePaths"), ["/data/backups", "-/var/lib/node_exporter/textfile", "-/var/log/sovereign-backup.log"]);
  assert.deepEqual(values(daily, "RequiresMountsFor"), ["/data/backups"]);
  assert.deepEqual(values(daily, "SystemCallFilter"), ["@system-service", "~@privileged @resources"]);
  assert.doesNotMatch(daily, /CAP_SYS_ADMIN|@mount|DeviceAllow/);
  // Node's JIT needs W+X memory: the setting may only appear in the comment that says so.
  for (const u of Object.values(units)) assert.deepEqual(values(u, "MemoryDenyWriteExecute"), []);
  assert.match(daily, /^# MemoryDenyWriteExecute= stays off on purpose: Node's JIT/m);
});

test("the USB service is the only one that may mount, and only the stick's devices", async () => {
  const { units } = await unitsFor(V01_LOCAL_AND_USB);
  const usb = units["sov-backup-usb.service"];
  assert.deepEqual(values(usb, "ExecStart"), [`${SOV} run --target usb`]);
  assert.deepEqual(values(usb, "CapabilityBoundingSet"), ["CAP_DAC_READ_SEARCH CAP_SYS_ADMIN"]);
  assert.deepEqual(values(usb, "SystemCallFilter"), ["@system-service @mount", "~@privileged @resources"]);
  assert.deepEqual(values(usb, "DevicePolicy"), ["closed"]);
  assert.deepEqual(values(usb, "DeviceAllow"), ["block-sd rw"]);
  assert.deepEqual(values(usb, "PrivateDevices"), []);
  assert.ok(values(usb, "ReadWritePaths").includes("/mnt/sov-backup"));
  assert.ok(!values(usb, "ReadWritePaths").includes("/data/backups"), "a USB run does not write the local destination");
  assert.doesNotMatch(usb, /^\[Install\]/m, "no timer starts it: it is started by hand");
});

test("a config with only a USB destination gets a daily service that can mount, at the configured mount point", async () => {
  const { units } = await unitsFor(`version: 2
source: { plugin: fs, paths: [/etc] }
encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/age-recipient }
destinations:
  - { plugin: usb, name: stick, label: SOVBACKUP, mount: /media/stick/ }
`);
  const daily = units["sov-backup.service"];
  assert.deepEqual(values(daily, "ExecStart"), [`${SOV} run --target stick`]);
  assert.match(daily, /^CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_ADMIN$/m);
  assert.ok(values(daily, "ReadWritePaths").includes("/media/stick"));
  assert.deepEqual(values(daily, "RequiresMountsFor"), []);
});

test("sov-verify.service checks without the private key and cannot write the archives", async () => {
  const { units } = await unitsFor(V01_LOCAL_AND_USB, "/etc/sovereign-backup/host.yaml");
  const verify = units["sov-verify.service"];
  assert.deepEqual(VERIFY_ARGS, ["verify", "--storage"]);
  assert.deepEqual(values(verify, "ExecStart"), [`${SOV} verify --config /etc/sovereign-backup/host.yaml --storage`]);
  assert.deepEqual(values(verify, "ReadWritePaths"), ["-/var/log/sovereign-backup.log"]);
  assert.deepEqual(values(verify, "CapabilityBoundingSet"), ["CAP_DAC_READ_SEARCH"]);
  assert.deepEqual(values(verify, "After"), ["sov-backup.service"]);
  assert.doesNotMatch(verify, /SOVEREIGN_BACKUP_IDENTITY/);
});

test("timers: daily at 02:00 and weekly on Sunday by default, randomized, persistent", async () => {
  const { units } = await unitsFor(EXAMPLE_CONFIG.replace(/^schedule:[\s\S]*$/m, ""));
  const daily = units["sov-backup.timer"];
  assert.deepEqual(values(daily, "OnCalendar"), ["*-*-* 02:00:00"]);
  assert.deepEqual(values(daily, "RandomizedDelaySec"), ["30min"]);
  assert.deepEqual(values(daily, "Persistent"), ["true"]);
  assert.deepEqual(values(daily, "Unit"), ["sov-backup.service"]);
  assert.deepEqual(values(daily, "WantedBy"), ["timers.target"]);
  const weekly = units["sov-verify.timer"];
  assert.deepEqual(values(weekly, "OnCalendar"), ["Sun *-*-* 05:00:00"]);
  assert.deepEqual(values(weekly, "Persistent"), ["true"]);
  assert.deepEqual(values(weekly, "Unit"), ["sov-verify.service"]);
});

test("timers follow the config's schedule keys, the bash tool's names included", async () => {
  const base = "sources: [/etc]\nage_recipient: /etc/sovereign-backup/age-recipient\n";
  const cases: Array<[string, string[], string, string[], string]> = [
    [
      'schedule:\n  on_calendar: ["Mon..Fri 01:00", "Sat,Sun 09:30"]\n  randomized_delay: 5min\n  verify_calendar: monthly\n  verify_randomized_delay: 0\n',
      ["Mon..Fri 01:00", "Sat,Sun 09:30"],
      "5min",
      ["monthly"],
      "0s",
    ],
    ['schedule:\n  local_calendar: "*-*-* 03:15:00"\n  local_random_delay: 10min\n', ["*-*-* 03:15:00"], "10min", ["Sun *-*-* 05:00:00"], "1h"],
    ['schedule:\n  time: "3:05"\n  randomized_delay: 600\n', ["*-*-* 03:05:00"], "600s", ["Sun *-*-* 05:00:00"], "1h"],
  ];
  for (const [schedule, calendar, delay, verifyCalendar, verifyDelay] of cases) {
    const { units } = await unitsFor(base + schedule);
    assert.deepEqual(values(units["sov-backup.timer"], "OnCalendar"), calendar, schedule);
    assert.deepEqual(values(units["sov-backup.timer"], "RandomizedDelaySec"), [delay], schedule);
    assert.deepEqual(values(units["sov-verify.timer"], "OnCalendar"), verifyCalendar, schedule);
    assert.deepEqual(values(units["sov-verify.timer"], "RandomizedDelaySec"), [verifyDelay], schedule);
  }
  const { lines } = await unitsFor(`${base}schedule:\n  weekly: yes\n`);
  assert.ok(lines.some((l) => l.startsWith("warn:") && l.includes("schedule.weekly")), lines.join("\n"));
});

test("schedule values that are wrong or would break the unit file are refused with the key named", async () => {
  const base = "sources: [/etc]\nage_recipient: /etc/sovereign-backup/age-recipient\n";
  for (const [schedule, key] of [
    ['schedule:\n  time: "25:00"\n', "schedule.time"],
    ['schedule:\n  on_calendar: "daily"\n  time: "02:00"\n', "schedule.on_calendar and schedule.time"],
    ['schedule:\n  on_calendar: "daily\\nExecStartPre=/bin/sh"\n', "schedule.on_calendar"],
    ['schedule:\n  on_calendar: "daily; rm -rf /"\n', "schedule.on_calendar"],
    ['schedule:\n  randomized_delay: "30min\\n[Service]"\n', "schedule.randomized_delay"],
    ["schedule:\n  verify_calendar: []\n", "schedule.verify_calendar"],
  ] as const) {
    await assert.rejects(() => unitsFor(base + schedule), (err: Error) => err instanceof ConfigError && err.message.includes(key), schedule);
  }
});

test("paths with blanks, quotes, % and $ are quoted and escaped, never split", async () => {
  const { units } = await unitsFor(
    `version: 2
source: { plugin: fs, paths: [/etc] }
encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/age-recipient }
destinations:
  - { plugin: local, name: nas, path: '/srv/My Backups 100% "x"' }
`,
    "/etc/sov conf/$HOST.yaml",
  );
  const daily = units["sov-backup.service"];
  assert.deepEqual(values(daily, "ReadWritePaths")[0], '"/srv/My Backups 100%% \\"x\\""');
  assert.deepEqual(values(daily, "ExecStart"), [`${SOV} run --config "/etc/sov conf/$$HOST.yaml" --target nas`]);
  await assert.rejects(
    () => unitsFor("sources: [/etc]\ndestinations:\n  local: relative/dir\nage_recipient: /etc/sovereign-backup/age-recipient\n"),
    (err: Error) => err instanceof ConfigError && /absolute/.test(err.message),
  );
});

test("install names no plugin: a third-party store is granted the local path it declares, a removable one its mount point", () => {
  const { log, lines } = captureLog();
  const config = parseConfigText("/etc/sovereign-backup/config.yaml", EXAMPLE_CONFIG, log);
  const units = renderUnits(
    unitOptionsFromConfig(
      config,
      [
        { name: "nas", features: { publish: "rename", localPath: "/srv/nas-backups" } },
        { name: "offsite", features: { publish: "upload" } },
        { name: "stick", features: { publish: "rename", removable: { mountPoint: "/media/stick" }, needsOpen: true } },
      ],
      { sovCommand: SOV, configPath: null },
      log,
    ),
  );
  const daily = units["sov-backup.service"];
  assert.deepEqual(values(daily, "ExecStart"), [`${SOV} run --target nas,offsite`]);
  assert.deepEqual(values(daily, "ReadWritePaths")[0], "/srv/nas-backups");
  const usb = units["sov-backup-usb.service"];
  assert.deepEqual(values(usb, "ExecStart"), [`${SOV} run --target stick`]);
  assert.ok(values(usb, "ReadWritePaths")[0]!.startsWith("/media/stick"), usb);
  assert.ok(!lines.some((l) => l.startsWith("warn:")), lines.join("\n"));
});

test("every unit names what it does and the README section to read", async () => {
  const { units } = await unitsFor(EXAMPLE_CONFIG);
  for (const [name, text] of Object.entries(units)) {
    assert.match(text, new RegExp(`^# ${name.replace(".", "\\.")}: `), name);
    assert.match(text, /README, "Install and schedule"/, name);
  }
});
