/**
 * A label-less Prometheus histogram observed once per relayed frame. prom-client's Histogram
 * validates and hashes labels and keys its buckets by their bound (a float turned into a
 * property name) on every call; here an observation is a bucket search and three additions,
 * and the cumulative counts are built only when the registry is scraped. Exposition as in
 * prom-client: `<name>_bucket{le="..."}` for each bound and `+Inf`, then `_sum` and `_count`.
 */
import type { Metric, Registry } from 'prom-client';

interface MetricValue {
  value: number;
  metricName: string;
  labels: Record<string, string | number>;
}

export class FrameHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  /** Observations per bucket; the last slot counts those above every bound. */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    /** Upper bounds, ascending, in the unit observed. */
    private readonly bounds: readonly number[],
    registry: Registry,
  ) {
    this.counts = new Float64Array(bounds.length + 1);
    registry.registerMetric(this as unknown as Metric);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += value;
    this.count++;
  }

  /** The registry's read at scrape time. */
  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += this.counts[i] as number;
      values.push({ value: cumulative, metricName: bucket, labels: { le: this.bounds[i] as number } });
    }
    values.push({ value: this.count, metricName: bucket, labels: { le: '+Inf' } });
    values.push({ value: this.sum, metricName: `${this.name}_sum`, labels: {} });
    values.push({ value: this.count, metricName: `${this.name}_count`, labels: {} });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}
