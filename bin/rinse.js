#!/usr/bin/env -S node --initial-old-space-size=64
// Entry for `npx rinse <command>`: runs the compiled CLI (built by `npm install` via the prepare script).
// The V8 flag above (also in `npm start`; kept when launched as `node <flag> bin/rinse.js`):
// a relay's heap is small while its buffers churn fast, and V8 then runs a full collection
// several times a second. A 64 MB floor for the old generation cuts that, and about 10% of
// the CPU at 100 streams, with about the same peak RSS there (bench/README.md, profiling notes).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// A relay with a few streams calls its per-message path a few hundred times a second, and at
// V8's default budget that path runs unoptimised for minutes. A smaller budget lets the
// optimising compiler take it within seconds; set before the CLI's modules load, so their
// functions get it (bench/README.md, profiling notes).
setFlagsFromString('--interrupt-budget=16384');

const cliUrl = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cliUrl))) {
  process.stderr.write('rinse: dist/cli.js is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
const { main } = await import(cliUrl.href);
process.exitCode = await main(process.argv.slice(2));
