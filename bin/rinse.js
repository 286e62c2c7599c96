#!/usr/bin/env node
// Entry for `npx rinse <command>`: runs the compiled CLI (built by `npm install` via the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cliUrl = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cliUrl))) {
  process.stderr.write('rinse: dist/cli.js is missing; run `npm install` (or `npm run build`) first\n');
  process.exit(2);
}
const { main } = await import(cliUrl.href);
process.exitCode = await main(process.argv.slice(2));
