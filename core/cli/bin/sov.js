#!/usr/bin/env node
// A committed shim so npm can link the `sov` command before `tsc -b` has built dist/.
// Node's flags (src/node-flags.ts) come from the launcher: the wrappers `sov install` writes
// and the package's bin/ scripts.
// First, before anything is loaded: a SIGUSR1 listener keeps Node from opening its inspector
// (code execution as root for any local user) on SIGUSR1.
process.on("SIGUSR1", () => {});
// Then V8's compile cache, when it can be trusted (src/compile-cache.ts): everything loaded
// after this line comes from bytecode a previous run compiled.
(await import("../dist/src/compile-cache.js")).useCompileCache();
const { main } = await import("../dist/src/cli.js");

process.exitCode = await main(process.argv.slice(2));
