/**
 * How the reorder window trades delay for order: run the fixer over the fixtures whose
 * tracks arrive out of order, for several windows, and count the tags that had to be
 * stamped forward (clamped) because they arrived after later tags were sent.
 * Usage: tsx bench/reorder-window.ts
 */
import { readFileSync } from 'node:fs';
import { readFlv } from '../src/flv/flv-reader.js';
import { StreamFixer } from '../src/fixer/stream-fixer.js';
import { ensureFixtures } from '../fixtures/generate.js';

const WINDOWS_MS = [0, 100, 250, 400, 500, 750, 1000];
const manifest = await ensureFixtures();
const rows: string[] = ['fixture            window  clamped  largest-clamp-ms  held'];
for (const name of ['av-out-of-order', 'all-at-once', 'clean-720p30']) {
  const { tags } = readFlv(readFileSync(manifest.find((f) => f.name === name)!.file));
  for (const windowMs of WINDOWS_MS) {
    const fixer = new StreamFixer(() => {}, { reorderWindowMs: windowMs });
    for (const t of tags) fixer.push(t);
    fixer.flush();
    const clamped = fixer.repairs['reorder-clamped'];
    const held = fixer.repairs.reordered?.count ?? 0;
    rows.push(
      `${name.padEnd(18)} ${String(windowMs).padStart(6)}  ${String(clamped?.count ?? 0).padStart(7)}  ${String(clamped?.maxAmount ?? 0).padStart(16)}  ${String(held).padStart(4)}`,
    );
  }
}
process.stdout.write(`${rows.join('\n')}\n`);
