/**
 * The contract as a Markdown table, one row per rule: docs/output-contract.md carries it,
 * and a test keeps the two the same.
 */
import { CONTRACT } from './output-contract.js';

export function contractTable(): string {
  const rows = CONTRACT.map(
    (r) => `| \`${r.rule}\` | ${r.holdsWhen} | ${r.reason} | ${r.cloudflareMust ? 'yes' : 'no'} |`,
  );
  return ['| rule | holds when | why | Cloudflare MUST |', '|---|---|---|---|', ...rows].join('\n');
}
