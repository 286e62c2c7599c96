/** Test helper: a rinse process's /metrics, scraped and parsed into `name{labels} -> value`. */

export type MetricSamples = Map<string, number>;

/** GET /metrics from the API on 127.0.0.1:`apiPort` (no API token). */
export async function scrapeMetrics(apiPort: number): Promise<MetricSamples> {
  const response = await fetch(`http://127.0.0.1:${apiPort}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const samples: MetricSamples = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}

/** One sample's value (`name` with its labels as Prometheus prints them), 0 when absent. */
export function metricValue(samples: MetricSamples, name: string): number {
  return samples.get(name) ?? 0;
}
