/**
 * Issue 12's off-site scenario: `sov run` to one S3 destination (Ceph's RADOS Gateway on
 * 127.0.0.1) against `rclone copyto` of an archive of the same corpus to the same bucket. The
 * reference only uploads; sov reads, compresses, encrypts and uploads in one stream, so the
 * ratio says whether the upload path keeps up with a dedicated uploader. Needs a running S3
 * server (`eval "$(bash ../shared/services/ceph-s3.sh start DIR)"`) and rclone.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { CheckFailed, listArchive, restoresExactly, sameList } from "./check.js";
import type { Corpus } from "./corpus.js";
import { writeRunConfig, type BenchContext, type Scenario } from "./scenarios.js";

export interface S3Server {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** The server ceph-s3.sh exported, or why there is none. */
export function s3FromEnv(env: NodeJS.ProcessEnv = process.env): S3Server | string {
  const { S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION } = env;
  if (!S3_ENDPOINT || !S3_ACCESS_KEY || !S3_SECRET_KEY) return 'no S3 server: eval "$(bash ../shared/services/ceph-s3.sh start DIR)" first';
  if (spawnSync("rclone", ["version"], { stdio: "ignore" }).status !== 0) return "rclone is not installed (apt-get install rclone)";
  return { endpoint: S3_ENDPOINT, accessKey: S3_ACCESS_KEY, secretKey: S3_SECRET_KEY, region: S3_REGION || "us-east-1" };
}

/** rclone's `ceph:` remote, configured by environment only (nothing written to ~/.config). */
function rcloneEnv(s3: S3Server): NodeJS.ProcessEnv {
  return {
    AWS_CA_BUNDLE: "",
    RCLONE_CONFIG_CEPH_TYPE: "s3",
    RCLONE_CONFIG_CEPH_PROVIDER: "Ceph",
    RCLONE_CONFIG_CEPH_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_CEPH_REGION: s3.region,
    RCLONE_CONFIG_CEPH_ACCESS_KEY_ID: s3.accessKey,
    RCLONE_CONFIG_CEPH_SECRET_ACCESS_KEY: s3.secretKey,
  };
}

export function offsiteScenario(corpus: Corpus, input: () => string, s3: S3Server, ctx: BenchContext): Scenario {
  const dir = join(ctx.work, "offsite");
  const config = join(dir, "config.yaml");
  const credentials = join(dir, "s3-credentials");
  const bucket = `sov-bench-${process.pid}`;
  const env = rcloneEnv(s3);
  const rclone = (args: string[], what: string): string => {
    const res = spawnSync("rclone", ["--config", "/dev/null", ...args], { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 20 });
    if (res.status !== 0) throw new CheckFailed(`${what}: rclone ${args.join(" ")} exited ${res.status}\n${res.stderr.trim()}`);
    return res.stdout;
  };
  let archive = "";
  let expected: string[] = [];
  return {
    name: "offsite",
    title: "sov run, one S3 destination (Ceph on 127.0.0.1)  vs  rclone copyto of an archive of the same corpus",
    checks: "each run leaves exactly one archive and its sidecar in the bucket; the warm-up's is downloaded and restored exactly, the others list the input archive's members",
    corpus,
    goals: { wallRatio: 1.0, rssMiB: 200, loopMs: 100 },
    setup() {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeFileSync(credentials, `[default]\naws_access_key_id = ${s3.accessKey}\naws_secret_access_key = ${s3.secretKey}\n`, { mode: 0o600 });
      chmodSync(credentials, 0o600);
      writeRunConfig(config, corpus, ctx, [
        `  - { name: offsite, plugin: s3, endpoint: ${JSON.stringify(s3.endpoint)}, region: ${s3.region}, bucket: ${bucket}, prefix: sov/, force_path_style: true, credentials_file: ${JSON.stringify(credentials)} }`,
      ]);
      rclone(["mkdir", `ceph:${bucket}`], "making the bucket");
      archive = input();
      expected = listArchive(archive, ctx.keys.identity);
    },
    sovArgs: () => ["run", "--config", config],
    ref: () => ({ label: "rclone copyto", argv: ["rclone", "--config", "/dev/null", "copyto", archive, `ceph:${bucket}/ref/${basename(archive)}`], env }),
    afterSov(run) {
      const names = rclone(["lsf", `ceph:${bucket}/sov/`], "listing sov's upload").split("\n").filter(Boolean);
      const archives = names.filter((n) => n.endsWith(".age"));
      if (archives.length !== 1 || names.length !== 2) throw new CheckFailed(`run ${run}: expected one archive and its sidecar in s3://${bucket}/sov/, found ${names.join(", ") || "nothing"}`);
      const copy = join(dir, archives[0]!);
      rclone(["copyto", `ceph:${bucket}/sov/${archives[0]}`, copy], "downloading sov's upload");
      if (run === 0) restoresExactly(copy, ctx.keys.identity, corpus.dir, join(dir, "extract"));
      else sameList(listArchive(copy, ctx.keys.identity), expected, `s3://${bucket}/sov/${archives[0]} (run ${run})`);
      rmSync(copy);
      rclone(["delete", `ceph:${bucket}/sov/`], "removing sov's upload");
    },
    afterRef() {
      rclone(["deletefile", `ceph:${bucket}/ref/${basename(archive)}`], "removing rclone's upload");
    },
  };
}
