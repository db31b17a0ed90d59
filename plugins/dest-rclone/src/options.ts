export interface RcloneOptions {
  /** `remote:path` as rclone names it: `b2:bucket/web1`, `gdrive:backups`, `:local:/srv/x`. */
  remote: string;
  /** An rclone.conf (holds the remote's secrets: root-owned, mode 0600); default rclone's own. */
  config_file?: string;
  /** The rclone executable, trusted like a hook (root-owned, writable by nobody else). */
  binary?: string;
}

export const DEFAULT_BINARY = "/usr/bin/rclone";

export const optionsSchema = {
  type: "object",
  required: ["remote"],
  properties: {
    // `name:path` or an on-the-fly `:backend:path`; never a leading `-` that rclone would read as a flag.
    remote: { type: "string", pattern: "^[^-\\s][^:]*:" },
    config_file: { type: "string", minLength: 1 },
    binary: { type: "string", minLength: 1 },
  },
  additionalProperties: false,
};
