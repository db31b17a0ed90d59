// The core's destination conformance kit, run against this plugin and a real OpenSSH server on
// 127.0.0.1, the way any plugin author would run it: through @sov/core/testing only.
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, test } from "node:test";
import { destinationConformance, destinationFromPlugin } from "@sov/core/testing";
import plugin from "../src/index.js";
import { hasTool, IN_CI, scratch, SSHD, startSshd } from "./sshd.js";

const tools = [SSHD, "ssh-keygen"];
const missing = tools.filter((tool) => !hasTool(tool));
if (missing.length > 0) {
  test("destination conformance: sov-plugin-dest-sftp against a real sshd", (t) => {
    if (IN_CI) throw new Error(`CI is missing ${missing.join(", ")}: .ci/run must install openssh-server`);
    t.skip(`needs ${missing.join(", ")} (not installed)`);
  });
} else {
  const dir = scratch({ after }, "conformance");
  const server = await startSshd({ after }, dir);
  const remoteDir = (index: number) => join(server.root, `check-${index}`);
  destinationConformance(
    "sov-plugin-dest-sftp against a real sshd",
    ({ index }) =>
      destinationFromPlugin(
        plugin,
        { host: "127.0.0.1", port: server.port, user: server.user, key_file: server.keyFile, known_hosts: server.knownHosts, directory: remoteDir(index) },
        { instance: "offsite", host: "conformance" },
      ),
    {
      // The server is this machine, so its storage is a local directory: a side door for the kit.
      raw: ({ index }) => ({
        names: () => readdir(remoteDir(index)),
        put: (name, data) => writeFile(join(remoteDir(index), name), data),
      }),
      largeBytes: 8 * 1024 * 1024,
    },
  );
}
