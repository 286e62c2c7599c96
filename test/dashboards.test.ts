/**
 * The operators' views in deploy/: every metric the Grafana dashboard and the Prometheus
 * alerts query is one a live `rinse serve` exposes at /metrics (a renamed metric fails here,
 * not on a blank panel), every label they group or match by is one of that metric's labels,
 * and the rules pass promtool when it is installed: its check, and unit tests that each alert
 * fires on its condition and stays quiet on a healthy relay.
 */
import { accessSync, constants, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { RelayMetrics } from '../src/metrics/relay-metrics.js';
import { apiPortOf, runProcess, startRinse, type RinseProcess } from './support/processes.js';

const ROOT = resolve(import.meta.dirname, '..');
const DASHBOARD = join(ROOT, 'deploy/grafana/rinse.json');
const RULES = join(ROOT, 'deploy/prometheus/rules.yml');

/** Labels Prometheus puts on every series of a target (scrape config, Kubernetes discovery). */
const TARGET_LABELS = ['instance', 'job', 'pod', 'namespace'];

/** What operators asked the dashboard to show (families as exposed). */
const DASHBOARD_MUST_SHOW = [
  'rinse_streams',
  'rinse_publishers_active',
  'rinse_upstream_sessions',
  'rinse_added_latency_seconds',
  'rinse_keyframe_interval_seconds',
  'rinse_frames_dropped_total',
  'rinse_repairs_total',
  'rinse_transcodes_active',
  'rinse_transcodes_refused',
  'rinse_upstream_reconnects_total',
  'rinse_publisher_reconnects_bridged_total',
  'rinse_gap_filler_seconds_total',
  'rinse_bytes_in_total',
  'rinse_bytes_out_total',
  'rinse_process_process_cpu_seconds_total',
  'rinse_process_process_resident_memory_bytes',
  'rinse_process_nodejs_eventloop_lag_p99_seconds',
];

const ALERTS = [
  'RinseUpstreamDown',
  'RinseFramesDropped',
  'RinseTranscodeCapReached',
  'RinseAddedLatencyHigh',
  'RinseRestarting',
];

interface Exposition {
  /** `# TYPE` of each family. */
  types: Map<string, string>;
  /** Every name with a HELP or TYPE line or a sample. */
  names: Set<string>;
}

function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?$/.exec(line);
    if (meta) {
      names.add(meta[2]!);
      if (meta[1] === 'TYPE') types.set(meta[2]!, meta[3] ?? '');
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return { types, names };
}

/** A series name as PromQL writes it -> its family in the exposition (a histogram's `_bucket` -> the histogram). */
function familyOf(name: string, scrape: Exposition): string {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  const type = m ? scrape.types.get(m[1]!) : undefined;
  if (type === 'histogram' || (type === 'summary' && m?.[2] !== 'bucket')) return m![1]!;
  return name;
}

/** Why `name` matches no series in the scrape, or null if it does. */
function notExposed(name: string, scrape: Exposition): string | null {
  if (familyOf(name, scrape) !== name) return null;
  const type = scrape.types.get(name);
  // A classic histogram has no series under its own name.
  if (type === 'histogram' || type === 'summary') return `${name} is a ${type}: query its _bucket, _sum or _count`;
  return scrape.names.has(name) ? null : `${name} is not in /metrics`;
}

const metricNames = (expr: string): string[] => [...new Set(expr.match(/rinse_[a-z0-9_]+/g) ?? [])];

/** Each family's label names, from the same registry `rinse serve` builds. */
function labelsByFamily(): Map<string, Set<string>> {
  const metrics = new RelayMetrics({
    publishers: () => 0,
    upstreamStates: () => ({}),
    modes: () => ({}),
    transcodesActive: () => 0,
    transcodesRefused: () => 0,
  });
  const labels = new Map<string, Set<string>>();
  for (const m of metrics.registry.getMetricsAsArray()) {
    const names = (m as unknown as { labelNames?: string[] }).labelNames ?? [];
    labels.set(m.name, new Set(names));
  }
  metrics.registry.clear();
  return labels;
}

/** Problems with one PromQL expression: unknown metrics, labels no metric of it has. */
function checkExpr(where: string, expr: string, scrape: Exposition, labels: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const names = metricNames(expr);
  if (names.length === 0) problems.push(`${where}: names no rinse metric: ${expr}`);
  for (const name of names) {
    const why = notExposed(name, scrape);
    if (why) problems.push(`${where}: ${why}`);
  }
  const known = (family: string): Set<string> => labels.get(family) ?? new Set();
  const allowed = new Set(TARGET_LABELS);
  for (const name of names) {
    for (const l of known(familyOf(name, scrape))) allowed.add(l);
    if (name.endsWith('_bucket')) allowed.add('le');
  }
  for (const m of expr.matchAll(/\b(?:by|without|on|ignoring)\s*\(([^)]*)\)/g))
    for (const label of m[1]!.split(',').map((l) => l.trim()))
      if (label && !allowed.has(label)) problems.push(`${where}: groups by ${label}, a label of none of ${names}`);
  for (const m of expr.matchAll(/(rinse_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
    const own = new Set([...TARGET_LABELS, ...known(familyOf(m[1]!, scrape))]);
    if (m[1]!.endsWith('_bucket')) own.add('le');
    for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"/g))
      if (!own.has(l[1]!)) problems.push(`${where}: matches ${l[1]}, not a label of ${m[1]}`);
  }
  for (const m of expr.matchAll(/label_values\(\s*[^,]+,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)/g))
    if (!allowed.has(m[1]!)) problems.push(`${where}: label_values of ${m[1]}, not a label of ${names}`);
  return problems;
}

/** Every PromQL query of the dashboard: panel targets (rows included) and query variables. */
function dashboardQueries(dashboard: any): Array<{ where: string; expr: string }> {
  const queries: Array<{ where: string; expr: string }> = [];
  const walk = (panels: any[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const t of panel.targets ?? []) queries.push({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr });
      walk(panel.panels);
    }
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating.list)
    if (v.type === 'query')
      queries.push({ where: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query });
  return queries;
}

function onPath(tool: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, tool);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

const promtool = onPath('promtool');
const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as any;
const rules = parse(readFileSync(RULES, 'utf8')) as any;
const allRules = (): any[] => rules.groups.flatMap((g: any) => g.rules);

let relay: RinseProcess;
let scrape: Exposition;
let labels: Map<string, Set<string>>;

beforeAll(async () => {
  relay = await startRinse([], {}, 60_000);
  const response = await fetch(`http://127.0.0.1:${await apiPortOf(relay)}/metrics`);
  expect(response.status).toBe(200);
  scrape = parseExposition(await response.text());
  labels = labelsByFamily();
});

afterAll(async () => {
  await relay?.stop();
});

describe('deploy/grafana/rinse.json', () => {
  it('the in-process registry the label check reads is the one rinse serve exposes', () => {
    const exposed = [...scrape.types.keys()].filter((n) => n.startsWith('rinse_')).sort();
    expect(exposed.length).toBeGreaterThan(30);
    expect([...labels.keys()].sort()).toEqual(exposed);
  });

  it('a Prometheus data source variable, an instance variable, stat and timeseries panels on it', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const [ds, instance] = dashboard.templating.list;
    expect(ds).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
    expect(instance).toMatchObject({ name: 'instance', type: 'query' });
    expect(instance.query.query).toBe('label_values(rinse_publishers_active, instance)');
    const panels = (dashboard.panels as any[]).filter((p) => p.type !== 'row');
    expect(new Set((dashboard.panels as any[]).map((p) => p.id)).size).toBe(dashboard.panels.length);
    for (const panel of panels) {
      expect(['timeseries', 'stat'], panel.title).toContain(panel.type);
      expect(panel.datasource, panel.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets.length, panel.title).toBeGreaterThan(0);
      for (const t of panel.targets) {
        expect(t.datasource, panel.title).toEqual(panel.datasource);
        expect(t.expr, panel.title).toMatch(/\{[^}]*instance=~"\$instance"/);
      }
    }
  });

  it('every metric queried is in a live /metrics scrape, every label grouped or matched by is its own', () => {
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(20);
    expect(queries.flatMap((q) => checkExpr(q.where, q.expr, scrape, labels))).toEqual([]);
    const shown = new Set(queries.flatMap((q) => metricNames(q.expr).map((n) => familyOf(n, scrape))));
    expect(DASHBOARD_MUST_SHOW.filter((f) => !shown.has(f))).toEqual([]);
  });
});

describe('deploy/prometheus/rules.yml', () => {
  it('each rule has alert, expr, for, a severity, a summary and a description', () => {
    expect(allRules().map((r) => r.alert)).toEqual(ALERTS);
    for (const rule of allRules()) {
      expect(rule.expr, rule.alert).toEqual(expect.any(String));
      expect(rule.for, rule.alert).toMatch(/^\d+(ms|s|m|h)$/);
      expect(['warning', 'critical'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toEqual(expect.stringMatching(/\S/));
      expect(rule.annotations?.description, rule.alert).toEqual(expect.stringMatching(/\S/));
    }
  });

  it('every metric an alert queries is in a live /metrics scrape, every label is its own', () => {
    expect(allRules().flatMap((r) => checkExpr(`alert ${r.alert}`, r.expr, scrape, labels))).toEqual([]);
  });

  it.skipIf(!promtool)(
    promtool ? 'promtool check rules' : 'promtool check rules (promtool not installed: apt-get install prometheus)',
    async () => {
      const run = await runProcess(promtool!, ['check', 'rules', RULES], 30_000);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
    },
  );

  it.skipIf(!promtool)(
    promtool
      ? 'promtool test rules: each alert fires on its condition, not on a healthy relay'
      : 'promtool test rules (promtool not installed: apt-get install prometheus)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rinse-rules-'));
      // Annotations left out: promtool would compare their rendered text too.
      const bare = { groups: rules.groups.map((g: any) => ({ ...g, rules: g.rules.map(withoutAnnotations) })) };
      writeFileSync(join(dir, 'rules.yml'), stringify(bare));
      writeFileSync(join(dir, 'tests.yml'), stringify(RULE_TESTS));
      const run = await runProcess(promtool!, ['test', 'rules', join(dir, 'tests.yml')], 30_000);
      rmSync(dir, { recursive: true });
      expect(run.code, run.stdout + run.stderr).toBe(0);
    },
  );
});

function withoutAnnotations(rule: any): any {
  const { annotations: _a, ...rest } = rule;
  return rest;
}

/** `name{labels}` of relay `n`'s series, as promtool's input notation writes it. */
function series(name: string, n: number, extra: Record<string, string> = {}): string {
  const all = { instance: `relay-${n}:9997`, job: 'rinse', ...extra };
  return `${name}{${Object.entries(all)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

const firing = (n: number, severity: string): object => ({
  exp_labels: { instance: `relay-${n}:9997`, job: 'rinse', severity },
});

/** Samples every 15 s; relay 1 is in trouble, the others show what must not alert. */
const RULE_TESTS = {
  rule_files: ['rules.yml'],
  evaluation_interval: '15s',
  tests: [
    {
      name: 'upstream down for 30 s; a new stream connecting for 15 s is not',
      interval: '15s',
      input_series: [
        { series: series('rinse_upstream_sessions', 1, { state: 'waiting' }), values: '1x40' },
        { series: series('rinse_upstream_sessions', 1, { state: 'live' }), values: '2x40' },
        { series: series('rinse_upstream_sessions', 2, { state: 'live' }), values: '3x40' },
        { series: series('rinse_upstream_sessions', 3, { state: 'connecting' }), values: '1 1 0x38' },
      ],
      alert_rule_test: [
        { alertname: 'RinseUpstreamDown', eval_time: '15s', exp_alerts: [] },
        { alertname: 'RinseUpstreamDown', eval_time: '1m', exp_alerts: [firing(1, 'critical')] },
      ],
    },
    {
      name: '2.7 % of frames dropped for 5 min; 0.5 % is not',
      interval: '15s',
      input_series: [
        ...[1, 2].flatMap((n) => [
          { series: series('rinse_frames_in_total', n, { track: 'video' }), values: '0+450x80' },
          { series: series('rinse_frames_in_total', n, { track: 'audio' }), values: '0+645x80' },
        ]),
        { series: series('rinse_frames_dropped_total', 1, { reason: 'upstream-backpressure' }), values: '0+30x80' },
        { series: series('rinse_frames_dropped_total', 2, { reason: 'before-first-idr' }), values: '0+5x80' },
      ],
      alert_rule_test: [
        { alertname: 'RinseFramesDropped', eval_time: '4m', exp_alerts: [] },
        { alertname: 'RinseFramesDropped', eval_time: '10m', exp_alerts: [firing(1, 'warning')] },
      ],
    },
    {
      name: 'transcodes refused for 5 min; one refusal, or a restart, is not',
      interval: '15s',
      input_series: [
        { series: series('rinse_transcodes_refused', 1), values: '0+60x80' },
        { series: series('rinse_transcodes_refused', 2), values: '0x20 1x60' },
        { series: series('rinse_transcodes_refused', 3), values: '100x20 0x60' },
      ],
      alert_rule_test: [
        { alertname: 'RinseTranscodeCapReached', eval_time: '4m', exp_alerts: [] },
        { alertname: 'RinseTranscodeCapReached', eval_time: '6m', exp_alerts: [firing(1, 'warning')] },
        { alertname: 'RinseTranscodeCapReached', eval_time: '10m', exp_alerts: [firing(1, 'warning')] },
      ],
    },
    {
      name: 'added latency p99 over 100 ms for 5 min; under 50 ms is not',
      interval: '15s',
      input_series: [
        ...[
          ['0.05', '0+10x80'],
          ['0.1', '0+20x80'],
          ['0.25', '0+1000x80'],
          ['+Inf', '0+1000x80'],
        ].map(([le, values]) => ({ series: series('rinse_added_latency_seconds_bucket', 1, { le: le! }), values })),
        ...['0.05', '0.1', '0.25', '+Inf'].map((le) => ({
          series: series('rinse_added_latency_seconds_bucket', 2, { le }),
          values: '0+1000x80',
        })),
      ],
      alert_rule_test: [
        { alertname: 'RinseAddedLatencyHigh', eval_time: '4m', exp_alerts: [] },
        { alertname: 'RinseAddedLatencyHigh', eval_time: '10m', exp_alerts: [firing(1, 'warning')] },
      ],
    },
    {
      name: 'two restarts in 15 min; one is not',
      interval: '15s',
      input_series: [
        { series: series('rinse_process_process_start_time_seconds', 1), values: '1000x20 2000x20 3000x40' },
        { series: series('rinse_process_process_start_time_seconds', 2), values: '1000x20 2000x60' },
      ],
      alert_rule_test: [
        { alertname: 'RinseRestarting', eval_time: '4m', exp_alerts: [] },
        { alertname: 'RinseRestarting', eval_time: '11m', exp_alerts: [firing(1, 'critical')] },
      ],
    },
  ],
};
