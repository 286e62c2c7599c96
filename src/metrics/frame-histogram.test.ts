import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FrameHistogram } from './frame-histogram.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];

describe('FrameHistogram', () => {
  it("prints what prom-client's Histogram prints for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new FrameHistogram('x_seconds', 'help text', BOUNDS, ours);
    const reference = new Histogram({ name: 'x_seconds', help: 'help text', buckets: BOUNDS, registers: [theirs] });
    // On a bound, between bounds, above the last, zero.
    for (const v of [0.001, 0.0005, 0.05, 0.01, 3, 0, 0.1, 1, 0.9]) {
      fast.observe(v);
      reference.observe(v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('x_seconds_bucket{le="+Inf"} 9');
  });

  it('starts at zero and resets to zero', async () => {
    const registry = new Registry();
    const h = new FrameHistogram('y_seconds', 'h', BOUNDS, registry);
    expect(await registry.metrics()).toContain('y_seconds_count 0');
    h.observe(0.5);
    expect(await registry.metrics()).toContain('y_seconds_bucket{le="1"} 1');
    registry.resetMetrics();
    expect(await registry.metrics()).toContain('y_seconds_bucket{le="1"} 0');
    expect(await registry.metrics()).toContain('y_seconds_sum 0');
  });
});
