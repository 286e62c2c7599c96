/**
 * Prometheus metrics (prom-client), one registry per relay process. Counters are moved by
 * the relay as things happen; gauges that describe current state are collected at scrape
 * time from the server and the relay. The per-frame traffic counts are plain numbers in a
 * {@link TrafficTally} (a frame costs a few additions, not four label-hashing counter calls)
 * that the frame and byte counters read at scrape time.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { FrameHistogram } from './frame-histogram.js';

export interface MetricsSources {
  /** Active publishers (sessions publishing right now). */
  publishers(): number;
  /** Upstream sessions by state (connecting, live, waiting). */
  upstreamStates(): Record<string, number>;
  /** Streams by mode (remux, transcode, transcode-waiting, transcode-failed). */
  modes(): Record<string, number>;
  /** Transcodes running now. */
  transcodesActive(): number;
  /** Transcodes refused by the cap, since start. */
  transcodesRefused(): number;
}

/** Frames and payload bytes through the relay since start, moved per frame by the sessions. */
export class TrafficTally {
  audioFramesIn = 0;
  videoFramesIn = 0;
  bytesIn = 0;
  audioFramesOut = 0;
  videoFramesOut = 0;
  bytesOut = 0;
}

export class RelayMetrics {
  readonly registry = new Registry();
  readonly traffic = new TrafficTally();
  readonly repairs = new Counter({
    name: 'rinse_repairs_total',
    help: 'Stream repairs made by the fixer, by kind',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  readonly gapFillerFrames = new Counter({
    name: 'rinse_gap_filler_frames_total',
    help: 'Filler frames sent while a publisher was away (reconnect) or silent (stall), by track',
    labelNames: ['reason', 'track'],
    registers: [this.registry],
  });
  readonly gapFillerSeconds = new Counter({
    name: 'rinse_gap_filler_seconds_total',
    help: 'Output time made of filler frames, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly gapFillerIdrs = new Counter({
    name: 'rinse_gap_filler_idrs_resent_total',
    help: 'IDRs sent again during a filler run so that no keyframe interval exceeds the limit',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly framesDropped = new Counter({
    name: 'rinse_frames_dropped_total',
    help: 'Frames dropped, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly keyframeInterval = new Histogram({
    name: 'rinse_keyframe_interval_seconds',
    help: 'Interval between video keyframes as received from publishers',
    buckets: [0.1, 0.5, 1, 2, 3, 4, 6, 8, 10, 15, 30, 60],
    registers: [this.registry],
  });
  readonly sessionsEnded = new Counter({
    name: 'rinse_rtmp_sessions_ended_total',
    help: 'RTMP sessions ended, by error code (none: an orderly end)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly connectionsRefused = new Counter({
    name: 'rinse_rtmp_connections_refused_total',
    help: 'RTMP connections refused before any session, by code (connection, per-address and rate limits)',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly upstreamReconnects = new Counter({
    name: 'rinse_upstream_reconnects_total',
    help: 'Upstream sessions re-established after a failure',
    registers: [this.registry],
  });
  readonly publisherReconnects = new Counter({
    name: 'rinse_publisher_reconnects_bridged_total',
    help: 'Publisher reconnects continued on the same upstream session',
    registers: [this.registry],
  });
  readonly upstreamStalls = new Counter({
    name: 'rinse_upstream_stalls_total',
    help: 'Upstream sessions given up because the receiver stopped acknowledging',
    registers: [this.registry],
  });
  readonly upstreamOutage = new Histogram({
    name: 'rinse_upstream_outage_seconds',
    help: 'From an upstream session lost to the next one publishing',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly upstreamReplayedFrames = new Counter({
    name: 'rinse_upstream_replayed_frames_total',
    help: 'Frames a new upstream session was sent from the outage buffer',
    registers: [this.registry],
  });
  /** The upstreams whose outage buffers rinse_upstream_buffered_bytes sums at scrape time. */
  readonly upstreamBuffers = new Set<{ readonly buffered: { readonly bytes: number } }>();
  readonly fileWriteFailures = new Counter({
    name: 'rinse_file_write_failures_total',
    help: 'Recordings and captures closed early by a write error, by kind and error code',
    labelNames: ['kind', 'code'],
    registers: [this.registry],
  });
  readonly tlsHandshakeFailures = new Counter({
    name: 'rinse_tls_handshake_failures_total',
    help: 'RTMPS connections that failed or timed out in the TLS handshake, by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly tlsReloads = new Counter({
    name: 'rinse_tls_reloads_total',
    help: 'RTMPS certificate reloads after a file change, by result (reloaded, failed) and error code',
    labelNames: ['result', 'code'],
    registers: [this.registry],
  });
  readonly tlsCertNotAfter = new Gauge({
    name: 'rinse_tls_cert_not_after_seconds',
    help: 'End of validity of the RTMPS certificate in use, Unix time (alert before it passes)',
    registers: [this.registry],
  });
  readonly addedLatency = new FrameHistogram(
    'rinse_added_latency_seconds',
    'Time from a frame arriving from the publisher to its write upstream',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    this.registry,
  );

  constructor(sources: MetricsSources) {
    // The event-loop delay histogram samples on a timer: every 100 ms costs an idle relay a
    // third of what the default 10 ms did. Not coarser: a scrape between two samples would
    // print NaN for the lag statistics.
    collectDefaultMetrics({ register: this.registry, prefix: 'rinse_process_', eventLoopMonitoringPrecision: 100 });
    registerTrafficCounters(this.registry, this.traffic);
    registerStateGauges(this.registry, sources);
    const buffers = this.upstreamBuffers;
    new Gauge({
      name: 'rinse_upstream_buffered_bytes',
      help: 'Bytes held in upstream outage buffers',
      registers: [this.registry],
      collect() {
        let bytes = 0;
        for (const b of buffers) bytes += b.buffered.bytes;
        this.set(bytes);
      },
    });
  }
}

/** Frame and byte counters, set to the tally's totals at each scrape (reset + inc: a counter has no set). */
function registerTrafficCounters(registry: Registry, t: TrafficTally): void {
  new Counter({
    name: 'rinse_bytes_in_total',
    help: 'Media payload bytes received from publishers',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(t.bytesIn);
    },
  });
  new Counter({
    name: 'rinse_bytes_out_total',
    help: 'Media payload bytes sent upstream',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(t.bytesOut);
    },
  });
  const framesByTrack = (name: string, help: string, audio: () => number, video: () => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['track'],
      registers: [registry],
      collect() {
        this.reset();
        this.inc({ track: 'audio' }, audio());
        this.inc({ track: 'video' }, video());
      },
    });
  };
  framesByTrack(
    'rinse_frames_in_total',
    'Audio and video frames received from publishers',
    () => t.audioFramesIn,
    () => t.videoFramesIn,
  );
  framesByTrack(
    'rinse_frames_out_total',
    'Audio and video frames sent to the destination',
    () => t.audioFramesOut,
    () => t.videoFramesOut,
  );
}

/** Gauges of current state, read from the server and the relay at each scrape. */
function registerStateGauges(registry: Registry, sources: MetricsSources): void {
  new Gauge({
    name: 'rinse_publishers_active',
    help: 'Publishers connected and publishing',
    registers: [registry],
    collect() {
      this.set(sources.publishers());
    },
  });
  new Gauge({
    name: 'rinse_upstream_sessions',
    help: 'Upstream sessions by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [state, n] of Object.entries(sources.upstreamStates())) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'rinse_streams',
    help: 'Streams by mode (remux or transcode)',
    labelNames: ['mode'],
    registers: [registry],
    collect() {
      this.reset();
      for (const mode of ['remux', 'transcode', 'transcode-waiting', 'transcode-failed'])
        this.set({ mode }, sources.modes()[mode] ?? 0);
    },
  });
  new Gauge({
    name: 'rinse_transcodes_active',
    help: 'ffmpeg transcodes running',
    registers: [registry],
    collect() {
      this.set(sources.transcodesActive());
    },
  });
  new Gauge({
    name: 'rinse_transcodes_refused',
    help: 'Transcodes refused by the concurrency cap since start',
    registers: [registry],
    collect() {
      this.set(sources.transcodesRefused());
    },
  });
}
