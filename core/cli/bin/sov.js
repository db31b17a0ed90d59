#!/usr/bin/env -S node --single-threaded-gc
// A committed shim so npm can link the `sov` command before `tsc -b` has built dist/.
// --single-threaded-gc: V8's parallel and concurrent GC threads compete with sov's own threads
// for the cores; on two cores doing that work on the main thread cut a backup's CPU by 7% and
// --verify's by 25% (README, Performance). Every launcher passes it: this shebang, the wrappers
// `sov install` writes and the package's bin/ scripts. V8 takes it only at start-up.
// First, before anything is loaded: a SIGUSR1 listener keeps Node from opening its inspector
// (code execution as root for any local user) on SIGUSR1.
process.on("SIGUSR1", () => {});
const { main } = await import("../dist/src/cli.js");

process.exitCode = await main(process.argv.slice(2));
