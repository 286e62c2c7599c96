/**
 * Feeds a {@link StreamAnalyzer} from a source: an FLV file (read with the push reader, in
 * 64 KiB pieces, so any size works) or an RTMP URL (played with rinse's RTMP client until
 * the publisher stops or the time limit passes).
 */
import { createReadStream } from 'node:fs';
import { FlvReader } from '../flv/flv-reader.js';
import { RtmpClient, redactUrl } from '../rtmp/client.js';
import { StreamAnalyzer, TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type InspectReport } from './stream-analyzer.js';

export interface InspectOptions {
  /** Keep per-tag rows (dts, pts, keyframe) in the report. */
  packets?: boolean;
  /** RTMP only: stop after this many seconds of playing. */
  seconds?: number;
}

export async function inspectFile(path: string, options: InspectOptions = {}): Promise<InspectReport> {
  const analyzer = new StreamAnalyzer(path, { keepPackets: options.packets });
  const reader = new FlvReader({ onTag: (t) => analyzer.push({ tagType: t.tagType, timestampMs: t.timestampMs, data: t.data }) });
  for await (const chunk of createReadStream(path, { highWaterMark: 64 * 1024 })) reader.push(chunk as Buffer);
  reader.end();
  return analyzer.finish();
}

export async function inspectRtmp(url: string, options: InspectOptions = {}): Promise<InspectReport> {
  const analyzer = new StreamAnalyzer(redactUrl(url), { keepPackets: options.packets });
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
          const tagType = frame.kind === 'audio' ? TAG_AUDIO : frame.kind === 'video' ? TAG_VIDEO : TAG_SCRIPT;
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
