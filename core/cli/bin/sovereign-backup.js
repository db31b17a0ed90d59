#!/usr/bin/env node
// The bash tool's command name and flags, kept for existing units and habits.
// First, before anything is loaded: a SIGUSR1 listener keeps Node from opening its inspector
// (code execution as root for any local user) on SIGUSR1.
process.on("SIGUSR1", () => {});
const { sovereignBackup } = await import("../dist/src/compat.js");

process.exitCode = await sovereignBackup(process.argv.slice(2));
