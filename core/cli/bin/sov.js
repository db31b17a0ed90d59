#!/usr/bin/env node
// A committed shim so npm can link the `sov` command before `tsc -b` has built dist/.
import { main } from "../dist/src/cli.js";

process.exitCode = await main(process.argv.slice(2));
