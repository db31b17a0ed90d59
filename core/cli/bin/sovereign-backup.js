#!/usr/bin/env node
// The bash tool's command name and flags, kept for existing units and habits.
import { sovereignBackup } from "../dist/src/compat.js";

process.exitCode = await sovereignBackup(process.argv.slice(2));
