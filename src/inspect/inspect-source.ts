/**
 * Feeds a {@link StreamAnalyzer} from a source: an FLV file (read with the push reader, in
 * 64 KiB pieces, so any size works) or an RTMP URL (played with rinse's RTMP client until
 * the publisher stops or the time limit passes).
 */
import { createReadStream } from 'node:fs';
import { FlvReader } from '../flv/flv-reader.js';
import { RtmpClient } from '../rtmp/client.js';
import { redactUrl } from '../rtmp/rtmp-url.js';
import { MediaFormatError } from '../flv/errors.js';
import { StreamFixer } from '../fixer/stream-fixer.js';
import { StreamAnalyzer, type AnalyzerTag, type InspectReport } from './stream-analyzer.js';
import { tagTypeOf } from '../media/tag-kinds.js';
import { TimelineCollector } from './report-timeline.js';

/**
 * The analyzer and, beside it, the fixer in dry run: the report says what is wrong and what
 * `rinse fix` (and the live relay) would repair, or that only a transcode can help.
 */
class Inspection {
  private readonly analyzer: StreamAnalyzer;
  private readonly timeline: TimelineCollector | null;
  private readonly fixer = new StreamFixer(
    () => {},
    {},
    (r) => this.timeline?.repair(r),
  );

  constructor(source: string, options: InspectOptions) {
    this.analyzer = new StreamAnalyzer(source, { keepPackets: options.packets });
    this.timeline = options.timeline ? new TimelineCollector() : null;
  }

  push(tag: AnalyzerTag): void {
    this.analyzer.push(tag);
    this.timeline?.push(tag);
    this.fixer.push(tag);
  }

  /** The reader lost the container here: nothing after it can be read. */
  parseError(detail: string): void {
    this.analyzer.parseError(detail, null);
  }

  finish(): InspectReport {
    this.fixer.flush();
    const report = this.analyzer.finish();
    report.repairs = this.fixer.repairs;
    report.needsTranscode = this.fixer.decision;
    if (this.timeline) report.timeline = this.timeline.finish();
    return report;
  }
}

export interface InspectOptions {
  /** Keep per-tag rows (dts, pts, keyframe) in the report. */
  packets?: boolean;
  /** RTMP only: stop after this many seconds of playing. */
  seconds?: number;
  /** Add the stream-time timeline (for the HTML report). */
  timeline?: boolean;
}

/** Tags already in memory, judged as a file's would be (tests, and callers that hold a stream). */
export function inspectTags(source: string, tags: Iterable<AnalyzerTag>, options: InspectOptions = {}): InspectReport {
  const inspection = new Inspection(source, options);
  for (const tag of tags) inspection.push(tag);
  return inspection.finish();
}

export async function inspectFile(path: string, options: InspectOptions = {}): Promise<InspectReport> {
  const analyzer = new Inspection(path, options);
  const reader = new FlvReader({
    onTag: (t) =>
      analyzer.push({
        tagType: t.tagType,
        timestampMs: t.timestampMs,
        data: t.data,
        previousTagSize: t.previousTagSize,
      }),
  });
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) reader.push(chunk as Buffer);
    reader.end();
  } catch (err) {
    // A broken container is a verdict (the parse rule), not an error; an unreadable file is.
    if (!(err instanceof MediaFormatError)) throw err;
    analyzer.parseError(err.message);
  }
  return analyzer.finish();
}

export async function inspectRtmp(url: string, options: InspectOptions = {}): Promise<InspectReport> {
  const analyzer = new Inspection(redactUrl(url), options);
  const client = await RtmpClient.connect(url);
  const limitMs = (options.seconds ?? 10) * 1000;
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, limitMs);
      client.on('unpublish', () => {
        clearTimeout(timer);
        resolve();
      });
      client.on('close', (err) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
      client
        .play((frame) => {
          const tagType = tagTypeOf(frame.kind);
          analyzer.push({ tagType, timestampMs: frame.timestampMs, data: frame.payload, arrivalMs: Date.now() });
        })
        .catch((err: unknown) => {
          clearTimeout(timer);
          reject(err as Error);
        });
    });
  } finally {
    await client.close();
  }
  return analyzer.finish();
}
