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

export async function replayFile(file: string, url: string, options: ReplayOptions): Promise<ReplayResult> {
  const started = Date.now();
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
  const progress: ReplayProgress = { pass: 0, tags: 0, bytes: 0, mediaMs: 0, elapsedMs: 0 };
  let reanchors = 0;
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

  try {
    for (let pass = 1; pass <= options.times && !options.signal?.aborted; pass++) {
      progress.pass = pass;
      let anchorWall = Date.now();
      let anchorTs: number | null = null;
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
            if (closedError !== null) throw closedError;
            if (options.signal?.aborted) break;
            const ts = tag.timestampMs;
            firstTs ??= ts;
            if (anchorTs === null) anchorTs = ts;
            let d = signedDelta32(ts, anchorTs);
            const pacedMs = (Date.now() - anchorWall) * options.speed;
            if (d < -REANCHOR_BACK_MS || d - pacedMs > REANCHOR_AHEAD_MS) {
              reanchors++;
              anchorWall = Date.now();
              anchorTs = ts;
              d = 0;
            }
            const waitMs = anchorWall + d / options.speed - Date.now();
            if (waitMs > 1) await sleep(waitMs, options.signal);
            if (tag.tagType !== TAG_AUDIO && tag.tagType !== TAG_VIDEO && tag.tagType !== TAG_SCRIPT) continue;
            const kind = kindOf(tag.tagType);
            const ok = client.sendMedia(kind, ts, tag.data);
            progress.tags++;
            progress.bytes += tag.data.length;
            progress.mediaMs = Math.max(progress.mediaMs, signedDelta32(ts, firstTs));
            if (!ok) await waitDrain();
          }
          progress.elapsedMs = Date.now() - started;
          options.onProgress?.({ ...progress });
        }
      } finally {
        await handle.close();
      }
      reader.end();
    }
    if (closedError !== null) throw closedError;
  } finally {
    await client.close();
  }
  progress.elapsedMs = Date.now() - started;
  return { ...progress, url: redactUrl(url), reanchors };
}
