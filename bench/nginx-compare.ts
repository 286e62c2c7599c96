/**
 * rinse against nginx-rtmp in the same run: the ratios at each stream count, idle cost, and
 * the cost targets (reported as hit or miss, never asserted).
 */

/** What the comparison reads of a scale row (bench/run.ts). */
export interface ScaleFigures {
  relay: string;
  streams: number;
  addedP99: number;
  cpuPercentOfCorePerStream: number;
  rssMb: number;
}

/** What it reads of a one-stream latency path. */
export interface PathFigures {
  name: string;
  addedP99: number;
  cpuPerMediaSecond: number | null;
  peakRssMb: number | null;
}

/** CPU with no stream at all, % of a core, per relay (null: not measured). */
export interface IdleFigures {
  rinse: number;
  nginx: number | null;
  seconds: number;
}

export interface CostTarget {
  target: string;
  value: number;
  hit: boolean;
}

const fmt = (n: number | null | undefined, digits = 2): string =>
  n === null || n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);

/** CPU per stream no more than this many times nginx-rtmp's, by stream count (the targets). */
const CPU_RATIO_TARGETS: ReadonlyArray<[number, number]> = [
  [1, 3],
  [20, 1.5],
  [100, 1.5],
];
/** p99 added no more than nginx-rtmp's plus this, at these stream counts, in ms. */
const P99_MARGIN_MS = 0.5;
const P99_MARGIN_AT = [1, 20];
/** ... and under this at 100 streams, in ms. */
const P99_AT_100_MS = 20;
/** Idle: under this % of a core. */
const IDLE_MAX_PERCENT = 0.1;

/** The targets against nginx-rtmp that this run's figures can judge. */
export function nginxTargets(rinse: ScaleFigures[], nginx: ScaleFigures[], idle: IdleFigures): CostTarget[] {
  const at = (rows: ScaleFigures[], n: number): ScaleFigures | undefined => rows.find((r) => r.streams === n);
  const out: CostTarget[] = [];
  for (const [n, max] of CPU_RATIO_TARGETS) {
    const r = at(rinse, n);
    const x = at(nginx, n);
    if (r === undefined || x === undefined) continue;
    const ratio = r.cpuPercentOfCorePerStream / x.cpuPercentOfCorePerStream;
    out.push({ target: `CPU per stream <= ${max}x nginx-rtmp at ${n} streams`, value: ratio, hit: ratio <= max });
  }
  for (const n of P99_MARGIN_AT) {
    const r = at(rinse, n);
    const x = at(nginx, n);
    if (r === undefined || x === undefined) continue;
    const over = r.addedP99 - x.addedP99;
    out.push({
      target: `p99 added <= nginx-rtmp + ${P99_MARGIN_MS} ms at ${n} streams (excess, ms)`,
      value: over,
      hit: over <= P99_MARGIN_MS,
    });
  }
  const r100 = at(rinse, 100);
  if (r100 !== undefined)
    out.push({
      target: `p99 added < ${P99_AT_100_MS} ms at 100 streams`,
      value: r100.addedP99,
      hit: r100.addedP99 < P99_AT_100_MS,
    });
  out.push({
    target: `idle (no streams, ${idle.seconds} s) < ${IDLE_MAX_PERCENT}% of a core`,
    value: idle.rinse,
    hit: idle.rinse < IDLE_MAX_PERCENT,
  });
  return out;
}

/** The nginx-rtmp rows, the rinse/nginx ratios per stream count, idle, and the targets. */
export function nginxLines(
  paths: PathFigures[],
  rinse: ScaleFigures[],
  nginx: ScaleFigures[],
  idle: IdleFigures,
): string[] {
  if (nginx.length === 0) return ['rinse / nginx-rtmp: nginx-rtmp not installed, skipped'];
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');
  const lines = [
    'rinse remux / nginx-rtmp push at N streams   p99 added ms (rinse, nginx)   CPU %core per stream (rinse, nginx, ratio)   RSS MB (rinse, nginx, ratio)',
  ];
  for (const x of nginx) {
    const r = rinse.find((row) => row.streams === x.streams);
    if (r === undefined) continue;
    lines.push(
      `  ${String(x.streams).padStart(4)} ${fmt(r.addedP99).padStart(32)} ${fmt(x.addedP99).padStart(7)} ` +
        `${fmt(r.cpuPercentOfCorePerStream, 3).padStart(26)} ${fmt(x.cpuPercentOfCorePerStream, 3).padStart(7)} ${ratio(r.cpuPercentOfCorePerStream, x.cpuPercentOfCorePerStream).padStart(7)} ` +
        `${fmt(r.rssMb, 1).padStart(22)} ${fmt(x.rssMb, 1).padStart(7)} ${ratio(r.rssMb, x.rssMb).padStart(7)}`,
    );
  }
  const remux = paths.find((p) => p.name === 'rinse remux');
  const peer = paths.find((p) => p.name === 'nginx-rtmp push');
  if (remux !== undefined && peer !== undefined)
    lines.push(
      `  one stream, 30 fps latency path: p99 added ${fmt(remux.addedP99)} vs ${fmt(peer.addedP99)} ms, CPU ${fmt((remux.cpuPerMediaSecond ?? Number.NaN) * 100)} vs ${fmt((peer.cpuPerMediaSecond ?? Number.NaN) * 100)} % of a core`,
    );
  lines.push(
    `  idle, no streams, ${idle.seconds} s: rinse ${fmt(idle.rinse, 3)} %, nginx-rtmp ${fmt(idle.nginx, 3)} % of a core`,
    '',
    'targets against nginx-rtmp',
  );
  for (const t of nginxTargets(rinse, nginx, idle))
    lines.push(`  ${t.hit ? 'HIT ' : 'MISS'}  ${t.target.padEnd(60)} ${fmt(t.value)}`);
  return lines;
}
