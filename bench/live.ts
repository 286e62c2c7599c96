/**
 * Live benchmark pieces: a paced publisher, an in-process receiver, the relays under test
 * (rinse remux, rinse forced transcode, an ffmpeg `-c copy` relay and the seed's ffmpeg
 * libx264 relay), and per-process CPU and peak RSS from /proc. Everything on 127.0.0.1.
 *
 * Latency of a frame = its arrival at the receiver - its send by the publisher, both taken
 * with the same clock in this process; frames are matched by their order among video frames.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { readFlv, type FlvTag } from '../src/flv/flv-reader.js';
import { classifyVideo } from '../src/flv/media-tag.js';
import { RtmpClient } from '../src/rtmp/client.js';
import { RtmpServer } from '../src/rtmp/server.js';
import { freePort } from '../test/support/free-port.js';
import { LiveStreamRegistry } from '../src/live/live-streams.js';
import type { MediaFrame } from '../src/media/tag-kinds.js';
import type { StreamSubscriber } from '../src/rtmp/stream-hub.js';
import { TAG_AUDIO, TAG_VIDEO, kindOf } from '../src/media/tag-kinds.js';

export const BIN = resolve(import.meta.dirname, '../bin/rinse.js');
/** The node flags in bin/rinse.js's shebang: rinse is measured as it is launched. */
export const BIN_NODE_FLAGS = (
  /^#!\/usr\/bin\/env -S node(.*)$/m.exec(readFileSync(BIN, 'utf8').split('\n')[0] ?? '')?.[1] ?? ''
)
  .trim()
  .split(/\s+/)
  .filter((f) => f.length > 0);
const silent = pino({ level: 'silent' });

export { freePort };
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The media tags of an FLV file, without script tags, for publishing. */
export function loadTags(file: string): FlvTag[] {
  return readFlv(readFileSync(file)).tags.filter((t) => t.tagType === TAG_AUDIO || t.tagType === TAG_VIDEO);
}

const isCodedVideo = (t: { tagType?: number; kind?: string; payload?: Buffer; data?: Buffer }): boolean => {
  const data = t.data ?? t.payload;
  return (t.tagType === TAG_VIDEO || t.kind === 'video') && data !== undefined && !classifyVideo(data).isSequenceHeader;
};

/** The receiver: an in-process RTMP server; records each video frame's arrival per path. */
export class Receiver {
  private readonly hub = new LiveStreamRegistry();
  readonly server = new RtmpServer({
    hub: this.hub,
    host: '127.0.0.1',
    port: 0,
    logger: silent,
    // Every relay's upstream connections come from 127.0.0.1: no per-address caps.
    limits: {
      maxConnections: 2000,
      idleTimeoutMs: 120_000,
      maxConnectionsPerAddress: 0,
      maxNewConnectionsPerSecond: 0,
    },
  });
  port = 0;
  private readonly arrivals = new Map<string, number[]>();
  private readonly keys = new Map<string, string[]>();

  async start(): Promise<void> {
    this.port = (await this.server.listen()).port;
  }

  /** Start recording `path` (app/u/s). */
  watch(path: string): number[] {
    const list: number[] = [];
    const keys: string[] = [];
    this.arrivals.set(path, list);
    this.keys.set(path, keys);
    const sub: StreamSubscriber = {
      onFrame: (f: MediaFrame) => {
        if (f.kind !== 'video' || f.isSequenceHeader) return;
        list.push(performance.now());
        keys.push(frameKey(f.payload));
      },
    };
    this.hub.subscribe(path, sub);
    return list;
  }

  /** The frame keys (frameKey) of what `path` received, in arrival order. */
  keysOf(path: string): string[] {
    return this.keys.get(path) ?? [];
  }

  url(path: string): string {
    return `rtmp://127.0.0.1:${this.port}/${path}`;
  }

  async stop(): Promise<void> {
    await this.server.close();
  }
}

/**
 * Publish `tags` to `url` in real time (paced by their timestamps), `seconds` long. Records
 * the send time of each video frame. Retries the connect while the server comes up.
 */
export async function publish(
  url: string,
  tags: FlvTag[],
  seconds: number,
  startAt?: number,
  keys?: string[],
): Promise<number[]> {
  let client: RtmpClient | null = null;
  const deadline = Date.now() + 10_000;
  while (client === null) {
    try {
      client = await RtmpClient.connect(url, { connectTimeoutMs: 3000 });
      await client.publish();
    } catch (err) {
      void client?.close();
      client = null;
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
  const sends: number[] = [];
  const spanMs = (tags[tags.length - 1]?.timestampMs ?? 0) + 33;
  const start = startAt ?? performance.now();
  if (startAt !== undefined && startAt > performance.now()) await sleep(startAt - performance.now());
  let offset = 0;
  let i = 0;
  while (true) {
    const t = tags[i] as FlvTag;
    const ts = t.timestampMs + offset;
    if (ts >= seconds * 1000) break;
    const wait = start + ts - performance.now();
    if (wait > 1) await sleep(wait);
    client.sendMedia(kindOf(t.tagType), ts, t.data);
    if (isCodedVideo(t)) {
      sends.push(performance.now());
      keys?.push(frameKey(t.data));
    }
    i++;
    if (i === tags.length) {
      i = 0;
      offset += spanMs;
    }
  }
  await sleep(300);
  await client.close();
  return sends;
}

/** A relay process under test. */
export interface RelayProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Where publishers send. */
  ingestUrl(stream: string): string;
  stop(): Promise<void>;
}

function track(child: ChildProcess): Promise<void> {
  return new Promise((r) => child.on('close', () => r()));
}

/** `rinse serve` as the bench runs it: on 127.0.0.1:`port`, relaying to `receiver`, quiet. */
export function serveArgs(port: number, receiver: Pick<Receiver, 'port'>): string[] {
  return [
    'serve',
    '--host',
    '127.0.0.1',
    '--rtmp-port',
    String(port),
    '--log-level',
    'warn',
    '--api-port',
    '0',
    '--target',
    `rtmp://127.0.0.1:${receiver.port}/live/out/{streamId}`,
    '--grace-ms',
    '500',
    '--max-connections',
    '5000',
    // Every bench publisher comes from 127.0.0.1: the per-address caps are for the internet.
    '--max-connections-per-address',
    '0',
    '--max-new-connections-per-second',
    '0',
  ];
}

export async function startRinse(receiver: Receiver, extra: string[] = []): Promise<RelayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...BIN_NODE_FLAGS, BIN, ...serveArgs(port, receiver), ...extra], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const closed = track(child);
  await sleep(400);
  return {
    name: extra.includes('always') ? 'rinse transcode' : 'rinse remux',
    child,
    ingestUrl: (stream) => `rtmp://127.0.0.1:${port}/live/bench/${stream}`,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([closed, sleep(5000)]);
      child.kill('SIGKILL');
    },
  };
}

/** One ffmpeg relay: `-listen 1` on an ingest port, publishing to the receiver. */
export async function startFfmpegRelay(
  ffmpeg: string,
  receiver: Receiver,
  stream: string,
  mode: 'copy' | 'seed',
): Promise<RelayProcess> {
  const port = await freePort();
  const codec =
    mode === 'copy'
      ? ['-c', 'copy']
      : [
          // The seed's parameters: veryfast, zerolatency, 2 Mbps (2.5 max, 4 Mbit buffer), -g 30, AAC 44.1 kHz mono 128 kbps.
          '-c:v',
          'libx264',
          '-preset',
          'veryfast',
          '-tune',
          'zerolatency',
          '-sc_threshold',
          '0',
          '-b:v',
          '2000k',
          '-maxrate',
          '2500k',
          '-bufsize',
          '4000k',
          '-g',
          '30',
          '-pix_fmt',
          'yuv420p',
          '-c:a',
          'aac',
          '-b:a',
          '128k',
          '-ar',
          '44100',
          '-ac',
          '1',
        ];
  const child = spawn(
    ffmpeg,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-listen',
      '1',
      '-i',
      `rtmp://127.0.0.1:${port}/live/in`,
      ...codec,
      '-f',
      'flv',
      receiver.url(`live/out/${stream}`),
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const closed = track(child);
  await sleep(300);
  return {
    name: mode === 'copy' ? 'ffmpeg -c copy' : 'ffmpeg libx264 (seed)',
    child,
    ingestUrl: () => `rtmp://127.0.0.1:${port}/live/in`,
    stop: async () => {
      await Promise.race([closed, sleep(3000)]);
      child.kill('SIGKILL');
    },
  };
}

const CLOCK_TICKS_PER_S = 100;

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_S;
  } catch {
    return Number.NaN;
  }
}

/**
 * A process's CPU time in seconds at nanosecond resolution: the run time of each of its
 * threads from /proc/<pid>/task/<tid>/schedstat (the stat line counts 10 ms ticks, too
 * coarse for an idle process). Threads that have exited are not counted.
 */
export function threadCpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    return ns / 1e9;
  } catch {
    return Number.NaN;
  }
}

/** A process and all its descendants (rinse's ffmpeg children), from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

/** Peak resident set size (VmHWM) and current RSS of a process, in MB. */
export function memoryMb(pid: number): { peak: number; rss: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number =>
      Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? Number.NaN);
    return { peak: kb('VmHWM:') / 1024, rss: kb('VmRSS:') / 1024 };
  } catch {
    return { peak: Number.NaN, rss: Number.NaN };
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

export interface LatencyStats {
  frames: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * A video frame's identity for matching what arrived to what was sent: its size and last
 * bytes (a relay that repairs nothing passes the payload as it came).
 */
export function frameKey(payload: Buffer): string {
  return payload.length < 9 ? `${payload.length}` : `${payload.length}:${payload.readUInt32BE(payload.length - 4)}`;
}

/**
 * How many sent frames came before the first that arrived: a relay may drop the start of a
 * stream (nginx-rtmp's push waits for its upstream session and a keyframe). 0 when the first
 * arrival matches no sent frame (a transcode re-encodes every payload).
 */
export function arrivalOffset(sendKeys: readonly string[], arrivalKeys: readonly string[]): number {
  const first = arrivalKeys[0];
  const at = first === undefined ? -1 : sendKeys.indexOf(first);
  return at < 0 ? 0 : at;
}

/**
 * Per-frame latency (arrival - send), matched by video frame order from `offset` sent frames
 * on (arrivalOffset); the first `skipFrames` are warm-up.
 */
export function latency(sends: number[], arrivals: number[], skipFrames = 30, offset = 0): LatencyStats {
  const n = Math.min(sends.length - offset, arrivals.length);
  const values: number[] = [];
  for (let i = skipFrames; i < n; i++) values.push((arrivals[i] as number) - (sends[i + offset] as number));
  values.sort((a, b) => a - b);
  return {
    frames: values.length,
    p50: percentile(values, 50),
    p95: percentile(values, 95),
    p99: percentile(values, 99),
    max: values[values.length - 1] ?? Number.NaN,
  };
}
