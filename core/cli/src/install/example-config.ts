/**
 * The config `sov install` writes when there is none, in the bash tool's (v0.1) format so one
 * file serves both. When a config exists, this text goes beside it as `<name>.new` instead.
 */
export const EXAMPLE_CONFIG = `# sov (sovereign-backup) config: an annotated example written by \`sov install\`.
#
# sov reads /etc/sovereign-backup/<hostname -s>.yaml, else /etc/sovereign-backup/config.yaml,
# else the file given with --config. Edit it, then:
#   sudo sov list                  # the resolved config and plugin chain
#   sudo sov run --dry-run         # what a run would do
#   sudo sov install               # refresh the systemd units from this file
#   sudo systemctl enable --now sov-backup.timer sov-verify.timer

# Host name in archive names and logs; empty means \`hostname -s\`.
# host: myhost

# Paths to back up. Each is archived relative to /, so /etc/foo is etc/foo in the archive.
# A missing path is a warning, not an error.
sources:
  - /etc

# Glob patterns left out of the archive. Quote any pattern that holds '#'.
exclusions:
  - "*/node_modules"
  - "*/.cache/*"

# Where archives go. \`local\` is a directory on this host: \`sov install\` creates it (0700)
# and makes it writable for the sandboxed service. A USB stick is found by its ext4 label,
# mounted at /mnt/sov-backup and written by sov-backup-usb.service, which you start by hand.
destinations:
  local: /var/backups/sovereign-backup
  # usb_label: SOVEREIGN-BACKUP
  # usb_subdir: myhost/backups

# Days to keep archives; 0 keeps everything.
retention:
  local_days: 14
  usb_days: 90

# File holding the age recipient (the PUBLIC key, age1...). The private key stays offline.
age_recipient: /etc/sovereign-backup/age-recipient

# auto (zstd), zstd, lz4, gzip or none.
compressor: auto

# Absolute paths to root-owned executables. pre_hook runs before reading the sources,
# post_hook after an archive was written. A hook runs inside the service's sandbox: if it
# writes somewhere, add that directory with \`systemctl edit sov-backup.service\`.
# pre_hook: /usr/local/sbin/dump-databases
# post_hook: /usr/local/sbin/notify-backup

# When the timers fire (read by \`sov install\` only; re-run it after a change).
# on_calendar and verify_calendar take systemd calendar expressions (man systemd.time);
# the bash tool's local_calendar / local_random_delay and \`time: "02:00"\` work too.
schedule:
  on_calendar: "*-*-* 02:00:00"
  randomized_delay: 30min
  verify_calendar: "Sun *-*-* 05:00:00"
  verify_randomized_delay: 1h
`;
