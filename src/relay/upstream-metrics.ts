/** An upstream's events as the relay's Prometheus metrics count them. */
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import type { UpstreamEvents } from './upstream.js';

export function upstreamEvents(metrics: RelayMetrics): UpstreamEvents {
  return {
    onConnected: (connects) => {
      if (connects > 1) metrics.upstreamReconnects.inc();
    },
    onDropped: (reason, frames) => metrics.framesDropped.inc({ reason }, frames),
    onRecovered: (outageMs, replayedFrames) => {
      metrics.upstreamOutage.observe(outageMs / 1000);
      metrics.upstreamReplayedFrames.inc(replayedFrames);
    },
    onStalled: () => metrics.upstreamStalls.inc(),
  };
}
