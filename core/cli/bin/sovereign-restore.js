#!/usr/bin/env node
// The bash tool's restore command name and flags, kept for existing habits.
import { sovereignRestore } from "../dist/src/compat.js";

process.exitCode = await sovereignRestore(process.argv.slice(2));
