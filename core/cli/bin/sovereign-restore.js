#!/usr/bin/env node
// The bash tool's restore command name and flags, kept for existing habits.
// First, before anything is loaded: a SIGUSR1 listener keeps Node from opening its inspector
// (code execution as root for any local user) on SIGUSR1.
process.on("SIGUSR1", () => {});
// Then V8's compile cache, when it can be trusted (src/compile-cache.ts).
(await import("../dist/src/compile-cache.js")).useCompileCache();
const { sovereignRestore } = await import("../dist/src/compat.js");

process.exitCode = await sovereignRestore(process.argv.slice(2));
