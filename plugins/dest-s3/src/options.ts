import { ConfigError } from "@sov/core";

export interface S3Options {
  /** The S3 endpoint URL; omitted for AWS, where the region picks it. */
  endpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix of this host's archives; default `<host>/`. */
  prefix?: string;
  /** Path-style addressing (`https://host/bucket/key`), which MinIO and Ceph need. */
  force_path_style?: boolean;
  /** An AWS shared-credentials file; without it, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. */
  credentials_file?: string;
  profile?: string;
  /** Every object written gets this retention: it cannot be deleted before it ends. */
  object_lock?: { mode: "governance" | "compliance"; days: number };
}

export const optionsSchema = {
  type: "object",
  required: ["region", "bucket"],
  properties: {
    endpoint: { type: "string", pattern: "^https?://" },
    region: { type: "string", minLength: 1 },
    bucket: { type: "string", pattern: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$" },
    prefix: { type: "string", pattern: "^(?!/)(?!.*//)[^\\\\]*$" },
    force_path_style: { type: "boolean" },
    credentials_file: { type: "string", minLength: 1 },
    profile: { type: "string", minLength: 1 },
    object_lock: {
      type: "object",
      required: ["mode", "days"],
      properties: {
        mode: { enum: ["governance", "compliance"] },
        days: { type: "integer", minimum: 1, maximum: 36500 },
      },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
};

/** `web1` and `web1/` both mean the `web1/` folder; `""` is the bucket's top level. */
export function normalisePrefix(prefix: string | undefined, host: string): string {
  const value = prefix ?? `${host}/`;
  if (value.startsWith("/")) throw new ConfigError(`prefix ${value} must not start with /`);
  return value === "" || value.endsWith("/") ? value : `${value}/`;
}
