import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ArchiveStore } from "@sov/core";
import { applyPluginForTest, checkPluginOptions, checkPluginShape, createRunInfo } from "@sov/core/testing";
import plugin from "../src/index.js";

const KEYS = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "never-printed-secret" };

/** The store the plugin adds, collected the way the core's collector will take stores. */
async function storeFrom(options: Record<string, unknown>): Promise<ArchiveStore> {
  const { hooks, ctx } = applyPluginForTest(plugin, options, { instance: "offsite", host: "web1", env: KEYS });
  const added: ArchiveStore[] = [];
  const collector = { add: (store: ArchiveStore) => void added.push(store) };
  await hooks.destination.promise(collector as never, createRunInfo({ host: ctx.host }));
  assert.equal(added.length, 1);
  return added[0]!;
}

describe("dest-s3 plugin", () => {
  test("adds an upload store under the destination's name, prefix <host>/ by default, no secret in describe()", async () => {
    checkPluginShape(plugin, "destination");
    const store = await storeFrom({ endpoint: "http://127.0.0.1:9", region: "us-east-1", bucket: "backups", force_path_style: true });
    assert.equal(store.name, "offsite");
    assert.deepEqual(store.features, { publish: "upload" });
    assert.deepEqual(store.describe(), ["s3 s3://backups/web1/ at http://127.0.0.1:9"]);
    const locked = await storeFrom({ region: "eu-central-1", bucket: "backups", prefix: "fleet/web1", object_lock: { mode: "compliance", days: 30 } });
    assert.deepEqual(locked.features, { publish: "upload", objectLock: true });
    assert.deepEqual(locked.describe(), ["s3 s3://backups/fleet/web1/ at AWS eu-central-1", "object lock: compliance, 30 days per archive"]);
    assert.ok(!JSON.stringify([store.describe(), locked.describe()]).includes(KEYS.AWS_SECRET_ACCESS_KEY));
  });

  test("keys in the YAML, a bad bucket name or lock mode are refused by the schema", () => {
    const base = { region: "us-east-1", bucket: "backups" };
    assert.throws(() => checkPluginOptions(plugin, { ...base, secret_access_key: "x" }), /must NOT have additional properties/);
    assert.throws(() => checkPluginOptions(plugin, { ...base, bucket: "Bad_Bucket" }), /\/bucket must match pattern/);
    assert.throws(() => checkPluginOptions(plugin, { ...base, object_lock: { mode: "legal-hold", days: 1 } }), /\/object_lock\/mode must be equal to one of the allowed values/);
    assert.throws(() => checkPluginOptions(plugin, { ...base, endpoint: "minio:9000" }), /\/endpoint must match pattern/);
    assert.throws(() => checkPluginOptions(plugin, { bucket: "backups" }), /must have required property 'region'/);
  });
});
