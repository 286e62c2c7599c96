/** The fuzz run as text: a table per parser, its outcomes by label and code, and each finding with how to replay it. */
import type { Finding, FuzzReport, ParserReport } from './runner.js';

const MIB = 2 ** 20;

function n(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function mib(bytes: number): string {
  return `${(bytes / MIB).toFixed(1)} MiB`;
}

function signedMib(bytes: number): string {
  return `${bytes >= 0 ? '+' : '-'}${mib(Math.abs(bytes))}`;
}

function sum(report: ParserReport, prefix: string): number {
  let total = 0;
  for (const [key, count] of report.counts) if (key.startsWith(prefix)) total += count;
  return total;
}

/** Aligned columns: text left, figures right. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function figuresTable(report: FuzzReport): string {
  const rows = report.parsers.map((p) => [
    p.name,
    n(p.inputs) + (p.stoppedByTime ? '*' : ''),
    n(p.loopSeconds > 0 ? p.inputs / p.loopSeconds : 0),
    p.seconds.toFixed(0),
    n(sum(p, 'result:')),
    n(sum(p, 'coded:')),
    n(sum(p, 'other:')),
    n(sum(p, 'hang:')),
    n(sum(p, 'memory:')),
    mib(p.heapBeforeBytes),
    mib(p.heapAfterBytes),
    signedMib(p.heapGrowthBytes),
  ]);
  const header = ['parser', 'inputs', 'inputs/s', 'wall s', 'results', 'coded errors', 'other exceptions', 'hangs'];
  const text = table([...header, 'out of heap', 'heap before', 'heap after', 'growth'], rows);
  const short = report.parsers.some((p) => p.stoppedByTime) ? '\n* stopped at the time bound (--max-seconds)' : '';
  return text + short;
}

/** Per parser: result labels and error codes with their counts, largest first. */
export function outcomesText(report: FuzzReport): string {
  const width = Math.max(...report.parsers.map((p) => p.name.length));
  const lines: string[] = [];
  for (const p of report.parsers) {
    const groups = new Map<string, [string, number][]>();
    for (const [key, count] of p.counts) {
      const at = key.indexOf(':');
      const group = key.slice(0, at);
      groups.set(group, [...(groups.get(group) ?? []), [key.slice(at + 1), count]]);
    }
    let first = true;
    for (const group of ['result', 'coded', 'other', 'hang', 'memory']) {
      const entries = groups.get(group);
      if (entries === undefined) continue;
      entries.sort((a, b) => b[1] - a[1]);
      const label = group === 'result' ? 'results' : group === 'coded' ? 'coded' : group;
      const items = entries.map(([name, count]) => `${name} ${n(count)}`).join(', ');
      lines.push(`${(first ? p.name : '').padEnd(width)}  ${label.padEnd(7)}  ${items}`);
      first = false;
    }
  }
  return lines.join('\n');
}

/** The commands that replay a finding. */
export function reproduce(finding: Finding, runSeed: number): string[] {
  if (finding.index < 0) return [`npm run fuzz -- --parser ${finding.parser} --seed ${runSeed}`];
  const lines = [`npm run fuzz -- --parser ${finding.parser} --seed ${runSeed} --index ${finding.index}`];
  if (finding.file !== undefined) lines.push(`npm run fuzz -- --parser ${finding.parser} --replay ${finding.file}`);
  return lines;
}

export function findingsText(report: FuzzReport): string {
  if (report.findings.length === 0) return 'No findings: every input ended in a result or a coded error.';
  const lines = [`${report.findings.length} finding(s):`];
  for (const f of report.findings) {
    const where = f.index >= 0 ? ` at input ${f.index}` : '';
    lines.push(`- ${f.parser}: ${f.kind}${where}: ${f.error.name}: ${f.error.message}`);
    const frames = f.error.stack.split('\n').slice(1, 6);
    for (const frame of frames) lines.push(`    ${frame.trim()}`);
    if (f.file !== undefined) lines.push(`    input: ${f.file}`);
    for (const command of reproduce(f, report.runSeed)) lines.push(`    replay: ${command}`);
  }
  return lines.join('\n');
}
