import { definePlugin, type PluginContext } from "@sov/core";
import { createS3Client } from "./client.js";
import { loadCredentials } from "./credentials.js";
import { normalisePrefix, optionsSchema, type S3Options } from "./options.js";
import { S3Store } from "./store.js";
import type { UploadLimits } from "./upload.js";

export const PLUGIN_NAME = "@sov/dest-s3";
export { S3Store, type S3StoreSettings } from "./store.js";
export type { S3Options } from "./options.js";
export type { UploadLimits } from "./upload.js";

/** 16 MiB parts, 4 buffers at once: 64 MiB of memory at most, and objects up to 156 GiB. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { partSize: 16 * 1024 * 1024, queueSize: 4 };

/** Knobs tests turn to reach edge cases quickly; not options a user sets. */
export interface S3StoreInternals {
  readonly limits?: UploadLimits;
  readonly pageSize?: number;
}

/** Reads the credentials (a ConfigError, exit 2, if the file is unsafe) and builds the store. */
export async function createS3Store(options: Readonly<S3Options>, ctx: PluginContext, internals: S3StoreInternals = {}): Promise<S3Store> {
  const credentials = await loadCredentials(options.credentials_file, options.profile ?? "default", ctx.env ?? process.env);
  const client = createS3Client({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    forcePathStyle: options.force_path_style ?? false,
    credentials,
  });
  return new S3Store(client, {
    name: ctx.instance,
    bucket: options.bucket,
    endpoint: options.endpoint ?? `AWS ${options.region}`,
    prefix: normalisePrefix(options.prefix, ctx.host),
    ...(options.object_lock ? { objectLock: options.object_lock } : {}),
    limits: internals.limits ?? DEFAULT_UPLOAD_LIMITS,
    ...(internals.pageSize ? { pageSize: internals.pageSize } : {}),
  });
}

export default definePlugin<S3Options>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      destinations.add(await createS3Store(options, ctx));
    });
  },
});
