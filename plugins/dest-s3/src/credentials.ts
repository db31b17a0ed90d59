import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { checkSecretFile, ConfigError } from "@sov/core";

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * The keys from `credentials_file` (checked like a secret: root-owned, mode 0600), else from the
 * standard AWS environment variables. Nothing else: the SDK's default chain would also read
 * ~/.aws and run `credential_process` commands, which a root service must not. Errors never
 * quote the file's lines, which hold secrets.
 */
export async function loadCredentials(file: string | undefined, profile: string, env: Readonly<NodeJS.ProcessEnv>): Promise<S3Credentials> {
  if (file === undefined) {
    const accessKeyId = env.AWS_ACCESS_KEY_ID;
    const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
    if (!accessKeyId || !secretAccessKey) {
      throw new ConfigError("no S3 credentials: set credentials_file (AWS shared-credentials format, mode 0600) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    }
    return { accessKeyId, secretAccessKey, ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}) };
  }
  if (!isAbsolute(file)) throw new ConfigError(`credentials_file must be an absolute path, not ${file}`);
  await checkSecretFile(file, "credentials_file");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read credentials_file ${file} (${(err as NodeJS.ErrnoException).code ?? "unknown error"})`);
  }
  const section = parseProfiles(text, file).get(profile);
  if (!section) throw new ConfigError(`credentials_file ${file} has no [${profile}] section; add one or set profile`);
  const accessKeyId = section.get("aws_access_key_id");
  const secretAccessKey = section.get("aws_secret_access_key");
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError(`credentials_file ${file}: [${profile}] needs aws_access_key_id and aws_secret_access_key`);
  }
  const sessionToken = section.get("aws_session_token");
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/** The INI dialect of ~/.aws/credentials: `[profile]` headers, `key = value` lines, `#`/`;` comments. */
function parseProfiles(text: string, file: string): Map<string, Map<string, string>> {
  const profiles = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    const header = /^\[\s*(?:profile\s+)?([^\]]+?)\s*\]$/.exec(line);
    if (header) {
      current = new Map();
      profiles.set(header[1]!, current);
      return;
    }
    const eq = line.indexOf("=");
    if (eq < 1 || !current) throw new ConfigError(`credentials_file ${file}: line ${i + 1} is neither [profile] nor key = value`);
    current.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  });
  return profiles;
}
