import { readFileSync, statSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { ConfigError } from "@sov/core";
import ssh2 from "ssh2";
import { parseKnownHosts, pinFor, type HostPin } from "./known-hosts.js";

/** The YAML options of one SFTP destination (beside `plugin`, `name` and `retention`). */
export interface SftpOptions {
  /** The SFTP server's host name or IP address. */
  host: string;
  /** Default 22. */
  port?: number;
  /** The login name on the server. */
  user: string;
  /** An unencrypted OpenSSH private key (mode 0600), dedicated to backups. */
  key_file: string;
  /** An OpenSSH known_hosts file that must pin the server's host key. */
  known_hosts: string;
  /** The remote archive directory; a relative one is relative to the login directory. */
  directory: string;
  /** Seconds to wait for the connection and for the server to answer. Default 30. */
  timeout?: number;
}

/** Kept beside the type it checks, as webpack plugins do; ajv fills in the defaults. */
export const optionsSchema = {
  type: "object",
  required: ["host", "user", "key_file", "known_hosts", "directory"],
  properties: {
    host: { type: "string", minLength: 1, pattern: "^[A-Za-z0-9._:-]+$" },
    port: { type: "integer", minimum: 1, maximum: 65535, default: 22 },
    user: { type: "string", minLength: 1, pattern: "^[A-Za-z0-9._][A-Za-z0-9._-]*$" },
    key_file: { type: "string", minLength: 1 },
    known_hosts: { type: "string", minLength: 1 },
    directory: { type: "string", minLength: 1 },
    timeout: { type: "number", exclusiveMinimum: 0, maximum: 3600, default: 30 },
  },
  additionalProperties: false,
} as const;

/** Options checked against the files they name: what a connection needs, read once. */
export interface ResolvedOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly keyFile: string;
  readonly privateKey: Buffer;
  readonly knownHostsFile: string;
  readonly pin: HostPin;
  readonly remoteDir: string;
  readonly timeoutMs: number;
}

/**
 * Reads the key and known_hosts files named in the options. Every problem is a ConfigError that
 * names the destination, so `sov run` stops with exit 2 before anything is read or written.
 */
export function resolveOptions(instance: string, options: SftpOptions, configDir: string): ResolvedOptions {
  const fail = (message: string) => new ConfigError(`destination ${instance}: ${message}`);
  const port = options.port ?? 22;
  const keyFile = isAbsolute(options.key_file) ? options.key_file : resolve(configDir, options.key_file);
  const knownHostsFile = isAbsolute(options.known_hosts) ? options.known_hosts : resolve(configDir, options.known_hosts);

  let privateKey: Buffer;
  try {
    const st = statSync(keyFile);
    if (!st.isFile()) throw fail(`key_file ${keyFile} is not a regular file`);
    if (st.mode & 0o077) throw fail(`key_file ${keyFile} is readable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    privateKey = readFileSync(keyFile);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw fail(`cannot read key_file ${keyFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const parsed = ssh2.utils.parseKey(privateKey);
  if (parsed instanceof Error) {
    const encrypted = /encrypted|passphrase/i.test(parsed.message);
    throw fail(
      encrypted
        ? `key_file ${keyFile} is protected by a passphrase; a timer cannot type it: use a dedicated unencrypted key (see the README)`
        : `key_file ${keyFile} is not an OpenSSH private key: ${parsed.message}`,
    );
  }
  if (Array.isArray(parsed) ? !parsed[0]?.isPrivateKey() : !parsed.isPrivateKey()) {
    throw fail(`key_file ${keyFile} holds a public key; name the private key`);
  }

  let knownHostsText: string;
  try {
    knownHostsText = readFileSync(knownHostsFile, "utf8");
  } catch (err) {
    throw fail(`cannot read known_hosts ${knownHostsFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const pin = pinFor(parseKnownHosts(knownHostsText), options.host, port);
  if (pin.keys.length === 0) {
    throw fail(
      `${knownHostsFile} has no host key for ${pin.name}; sov never trusts an unknown host key. ` +
        `Check the server's fingerprint, then add its line (ssh-keyscan${port === 22 ? "" : ` -p ${port}`} ${options.host})`,
    );
  }
  return {
    host: options.host,
    port,
    user: options.user,
    keyFile,
    privateKey,
    knownHostsFile,
    pin,
    remoteDir: options.directory.replace(/(.)\/+$/, "$1"),
    timeoutMs: Math.round((options.timeout ?? 30) * 1000),
  };
}
