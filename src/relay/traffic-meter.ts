/**
 * One relayed stream's traffic for the metrics: frames and bytes in and out, and the
 * latency the relay adds to each frame (arrival of its input to its hand-over to the
 * destination). Only built when metrics are collected, so a relay without them pays nothing.
 */
import { performance } from 'node:perf_hooks';
import { classifyVideo } from '../flv/media-tag.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaFrame, type MediaTag } from '../media/tag-kinds.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import { StreamHistory } from './stream-history.js';

/** Arrival times kept for the latency histogram, in ms: past the fixer's 500 ms reorder window. */
const ARRIVAL_MEMORY_MS = 1000;

export class TrafficMeter {
  private readonly metrics: RelayMetrics;
  /**
   * When each input payload arrived: passed-through frames leave with the buffer they came
   * in, and the entry goes when they do. A plain Map in arrival order (a WeakMap costs every
   * GC an ephemeron pass); entries of frames the fixer dropped are pruned once older than
   * ARRIVAL_MEMORY_MS.
   */
  private readonly arrivals = new Map<Buffer, number>();
  /** Arrival of the input being pushed now: output made from it without reusing its buffer. */
  private pushArrival: number | null = null;

  /** The stream's last minutes, for the live page: fed here with the traffic it counts. */
  readonly history = new StreamHistory();

  constructor(metrics: RelayMetrics) {
    this.metrics = metrics;
  }

  /** A frame arrived from the publisher; returns its arrival time (performance.now() ms). */
  arrived(frame: MediaFrame): number {
    const at = performance.now();
    if (frame.kind === 'data') return at;
    this.arrivals.set(frame.payload, at);
    this.pruneArrivals(at);
    const traffic = this.metrics.traffic;
    if (frame.kind === 'audio') traffic.audioFramesIn++;
    else traffic.videoFramesIn++;
    traffic.bytesIn += frame.payload.length;
    this.history.bytesIn(frame.payload.length);
    return at;
  }

  /** The input arrived at `at` is being pushed through the fixer (null: the push is over). */
  pushing(at: number | null): void {
    this.pushArrival = at;
  }

  /** A tag is handed to the destination (remuxed or transcoded). */
  left(tag: MediaTag): void {
    if (tag.tagType === TAG_SCRIPT) return;
    if (tag.tagType === TAG_VIDEO && classifyVideo(tag.data).isSequenceHeader) return;
    const traffic = this.metrics.traffic;
    if (tag.tagType === TAG_AUDIO) traffic.audioFramesOut++;
    else traffic.videoFramesOut++;
    traffic.bytesOut += tag.data.length;
    // Passed-through frames carry their own arrival; rebuilt ones take the arrival of the
    // input whose push produced them (a lower bound for frames the interleaver held).
    const own = this.arrivals.get(tag.data);
    if (own !== undefined) this.arrivals.delete(tag.data);
    const arrived = own ?? this.pushArrival;
    const latencyMs = arrived === null ? null : performance.now() - arrived;
    if (latencyMs !== null) this.metrics.addedLatency.observe(latencyMs / 1000);
    this.history.frameOut(tag.tagType === TAG_VIDEO, tag.data.length, tag.timestampMs, latencyMs);
  }

  /** Forget arrivals of frames that never left (dropped or rebuilt by the fixer). */
  private pruneArrivals(nowMs: number): void {
    for (const [payload, at] of this.arrivals) {
      if (nowMs - at <= ARRIVAL_MEMORY_MS) return;
      this.arrivals.delete(payload);
    }
  }
}
