/**
 * `rinse replay`: publish an FLV file to an RTMP server exactly as stored (timestamps,
 * framing and payload bytes untouched), paced by its timestamps, to reproduce a captured
 * glasses stream against any server.
 *
 * Pacing follows the file's own clock: each tag goes out when the wall clock (times --speed)
 * reaches its timestamp. Where the file's clock breaks (a restart near 0, a jump back by
 * more than a second, or a jump ahead of the pacing by more than 5 s) the pacing re-anchors
 * on that tag instead of stalling or bursting; the timestamps themselves are still sent as
 * stored. The file is read in 1 MiB pieces, so any size replays in constant memory.
 */
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import { FlvReader, type FlvTag } from './flv/flv-reader.js';
import { RtmpClient } from './rtmp/client.js';
import { redactUrl } from './rtmp/rtmp-url.js';
import { signedDelta32 } from './media/timestamps.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, kindOf } from './media/tag-kinds.js';

/** A step back further than this re-anchors the pacing, in ms. */
const REANCHOR_BACK_MS = 1000;
/** A tag further than this ahead of the pacing clock re-anchors it, in ms. */
const REANCHOR_AHEAD_MS = 5000;
const READ_BYTES = 1024 * 1024;

export interface ReplayOptions {
  /** Playback rate: 2 sends twice as fast as real time. */
  speed: number;
  /** Play the file this many times (Infinity: until stopped). */
  times: number;
  logger?: Logger;
  signal?: AbortSignal;
  /** rtmps: certificate checks. */
  rejectUnauthorized?: boolean;
  onProgress?: (p: ReplayProgress) => void;
}

export interface ReplayProgress {
  pass: number;
  tags: number;
  bytes: number;
  mediaMs: number;
  elapsedMs: number;
}

export interface ReplayResult extends ReplayProgress {
  url: string;
  reanchors: number;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A publishing client, and the error that ended its connection once it ended. */
async function connectPublisher(
  url: string,
  options: ReplayOptions,
): Promise<{ client: RtmpClient; closed: () => Error | null; waitDrain: () => Promise<void> }> {
  const client = await RtmpClient.connect(url, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.rejectUnauthorized === false ? { tls: { rejectUnauthorized: false } } : {}),
  });
  let closedError: Error | null = null;
  client.on('close', (err) => {
    closedError = err ?? new Error('the server closed the connection');
  });
  try {
    await client.publish();
  } catch (err) {
    await client.close();
    throw err;
  }
  const waitDrain = (): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        client.off('drain', done);
        client.off('close', done);
        resolve();
      };
      client.on('drain', done);
      client.on('close', done);
    });
  return { client, closed: () => closedError, waitDrain };
}

/**
 * Wall-clock pacing on the file's own clock, re-anchored where that clock breaks (a step
 * back over REANCHOR_BACK_MS, or a tag over REANCHOR_AHEAD_MS ahead of the pacing).
 */
class Pacer {
  reanchors = 0;
  private anchorWall = Date.now();
  private anchorTs: number | null = null;

  constructor(private readonly speed: number) {}

  /** How long to wait before sending a tag stamped `ts`, in ms. */
  delayFor(ts: number): number {
    this.anchorTs ??= ts;
    let d = signedDelta32(ts, this.anchorTs);
    const pacedMs = (Date.now() - this.anchorWall) * this.speed;
    if (d < -REANCHOR_BACK_MS || d - pacedMs > REANCHOR_AHEAD_MS) {
      this.reanchors++;
      this.anchorWall = Date.now();
      this.anchorTs = ts;
      d = 0;
    }
    return this.anchorWall + d / this.speed - Date.now();
  }
}

export async function replayFile(file: string, url: string, options: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now();
  const publisher = await connectPublisher(url, options);
  const progress: ReplayProgress = { pass: 0, tags: 0, bytes: 0, mediaMs: 0, elapsedMs: 0 };
  let reanchors = 0;
  try {
    for (let pass = 1; pass <= options.times && !options.signal?.aborted; pass++) {
      progress.pass = pass;
      reanchors += await playPass(file, publisher, options, progress, started);
    }
    const closedError = publisher.closed();
    if (closedError !== null) throw closedError;
  } finally {
    await publisher.client.close();
  }
  progress.elapsedMs = Date.now() - started;
  return { ...progress, url: redactUrl(url), reanchors };
}

/** One pass over the file, paced from its first tag; returns how often the pacing re-anchored. */
async function playPass(
  file: string,
  publisher: Awaited<ReturnType<typeof connectPublisher>>,
  options: ReplayOptions,
  progress: ReplayProgress,
  started: number,
): Promise<number> {
  const pacer = new Pacer(options.speed);
  let firstTs: number | null = null;
  let batch: FlvTag[] = [];
  const reader = new FlvReader({ onTag: (t) => batch.push(t) });
  const handle = await open(file, 'r');
  try {
    for (;;) {
      if (options.signal?.aborted) break;
      // A fresh buffer per read: the reader may keep a view of the tail for the next tag.
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, null);
      if (bytesRead === 0) break;
      reader.push(buffer.subarray(0, bytesRead));
      const tags = batch;
      batch = [];
      for (const tag of tags) {
        const closedError = publisher.closed();
        if (closedError !== null) throw closedError;
        if (options.signal?.aborted) break;
        const ts = tag.timestampMs;
        firstTs ??= ts;
        const waitMs = pacer.delayFor(ts);
        if (waitMs > 1) await sleep(waitMs, options.signal);
        if (tag.tagType !== TAG_AUDIO && tag.tagType !== TAG_VIDEO && tag.tagType !== TAG_SCRIPT) continue;
        const ok = publisher.client.sendMedia(kindOf(tag.tagType), ts, tag.data);
        progress.tags++;
        progress.bytes += tag.data.length;
        progress.mediaMs = Math.max(progress.mediaMs, signedDelta32(ts, firstTs));
        if (!ok) await publisher.waitDrain();
      }
      progress.elapsedMs = Date.now() - started;
      options.onProgress?.({ ...progress });
    }
  } finally {
    await handle.close();
  }
  reader.end();
  return pacer.reanchors;
}
