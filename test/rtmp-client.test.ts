/**
 * Our RTMP client (src/rtmp/client.ts) over real sockets on 127.0.0.1: publishing to and
 * playing from the in-process rinse server, publishing to real ffmpeg in -listen mode,
 * the control-message duties (ping, acknowledgements) against a scripted server, and the
 * failure paths (rejected publish, refused port, silent server).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';
import type { Amf0Value } from '../src/media/amf0.js';
import { decodeAmf0 } from '../src/media/amf0-reader.js';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { ChunkParser } from '../src/rtmp/chunk-parser.js';
import { ChunkWriter } from '../src/rtmp/chunk-writer.js';
import {
  CONTROL_CSID,
  setChunkSizeMessage,
  userControlMessage,
  windowAckSizeMessage,
} from '../src/rtmp/control-messages.js';
import { RtmpClient, type PlayedFrame, type RtmpClientOptions } from '../src/rtmp/client.js';
import { RtmpError, RtmpErrorCode } from '../src/rtmp/errors.js';
import { ServerHandshake } from '../src/rtmp/handshake.js';
import { MessageType, UserControlEvent, type RtmpMessage } from '../src/rtmp/message-types.js';
import { classifyAudio, classifyVideo } from '../src/flv/media-tag.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { FrameRecorder, startTestServer, waitFor, type TestServer } from './support/server.js';
import { TapProxy, closeServer, listen } from './support/tap-proxy.js';
import { JUDGES, expectDecodes } from './support/judges.js';
import {
  decodeReport,
  probePackets,
  startFfmpeg,
  testEncode,
  type FfmpegProcess,
  startLivePublisher,
} from './support/media.js';
import { expectReceiverClean } from './support/processes.js';

interface Tag {
  kind: 'audio' | 'video' | 'data';
  timestampMs: number;
  body: Buffer;
}

/** The test input's tags, read with src/flv's reader. */
function readFlvTags(file: Buffer): Tag[] {
  const kinds: Record<number, Tag['kind']> = {
    [MessageType.AUDIO]: 'audio',
    [MessageType.VIDEO]: 'video',
    [MessageType.DATA_AMF0]: 'data',
  };
  return readFlv(file)
    .tags.filter((t) => kinds[t.tagType] !== undefined)
    .map((t) => ({ kind: kinds[t.tagType] as Tag['kind'], timestampMs: t.timestampMs, body: t.data }));
}

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Publishers put @setDataFrame before onMetaData; the FLV script tag body lacks it. */
const SET_DATA_FRAME = encodeAmf0('@setDataFrame');

/** Rejects after `ms`, so no await in this file can hang a test. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Send every tag as fast as the socket takes it, waiting for 'drain' when asked to. */
async function publishTags(client: RtmpClient, tags: Tag[]): Promise<void> {
  for (const tag of tags) {
    const payload = tag.kind === 'data' ? Buffer.concat([SET_DATA_FRAME, tag.body]) : tag.body;
    if (!client.sendMedia(tag.kind, tag.timestampMs, payload)) {
      await within(once(client, 'drain'), 15_000, 'the client socket to drain');
    }
  }
}

/** A port nothing listens on (bound, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A logger whose lines the test can read. */
function captureLogger(): { logger: NonNullable<RtmpClientOptions['logger']>; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(
        ...chunk
          .toString()
          .split('\n')
          .filter((l) => l.length > 0),
      );
      cb();
    },
  });
  return { logger: createLogger({ level: 'debug', destination: sink }), lines };
}

describe('RtmpClient against the rinse server', () => {
  let srv: TestServer;
  let tags: Tag[];
  const clients: RtmpClient[] = [];
  const processes: FfmpegProcess[] = [];

  beforeAll(async () => {
    tags = readFlvTags(readFileSync(await testEncode()));
    srv = await startTestServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const p of processes.splice(0)) p.child.kill('SIGKILL');
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('sends every payload intact while its socket backs up (the send buffer is reused only when nothing is queued)', async () => {
    const path = 'live/client/burst';
    const recorder = new FrameRecorder();
    srv.registry.subscribe(path, recorder);
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.port}/${path}`);
    clients.push(client);
    await client.publish();
    // 600 messages written in one go (about 20 MB, far more than the socket buffers take):
    // most are written while earlier ones are still queued, some after the queue drained.
    const payloads = Array.from({ length: 600 }, (_, i) => {
      const b = Buffer.alloc(i % 3 === 2 ? 200 : 48_000 + i, i & 0xff);
      b[0] = 0xaf; // AAC raw frame
      b[1] = 0x01;
      b.writeUInt16BE(i, 2);
      return b;
    });
    let queuedWhileWriting = 0;
    for (const [i, b] of payloads.entries()) {
      client.sendMedia('audio', i * 23, b);
      if (client.writableLength > 0) queuedWhileWriting++;
      if (i === 300) await waitFor(() => client.writableLength === 0, 10_000, 'the queue to drain');
    }
    expect(queuedWhileWriting).toBeGreaterThan(50);
    await waitFor(() => recorder.frames.length >= payloads.length, 15_000, 'every burst frame at the server');
    expect(recorder.frames.map((f) => f.md5)).toEqual(payloads.map(md5));
  });

  it('publishes every frame of the test encode; the server gets identical payloads and timestamps', async () => {
    const path = 'live/client/pub';
    const recorder = new FrameRecorder();
    srv.registry.subscribe(path, recorder);
    const tap = await new TapProxy(srv.port).start();
    try {
      const { logger, lines } = captureLogger();
      const client = await RtmpClient.connect(`rtmp://127.0.0.1:${tap.port}/${path}`, { logger });
      clients.push(client);
      const statuses: Array<Record<string, unknown>> = [];
      client.on('status', (s) => statuses.push(s));
      await client.publish();
      expect(statuses.map((s) => s.code)).toEqual(['NetStream.Publish.Start']);
      expect(recorder.publishes).toBe(1);

      await publishTags(client, tags);
      await waitFor(() => recorder.frames.length >= tags.length, 15_000, 'every frame at the server');
      // The server strips @setDataFrame: what it keeps is the FLV tag body, byte for byte.
      expect(recorder.frames.map((f) => ({ kind: f.kind, timestampMs: f.timestampMs, md5: f.md5 }))).toEqual(
        tags.map((t) => ({ kind: t.kind, timestampMs: t.timestampMs, md5: md5(t.body) })),
      );
      expect(tags.filter((t) => t.kind === 'video').length).toBeGreaterThanOrEqual(300);

      const closeEvent = once(client, 'close');
      await within(client.close(), 5000, 'close()');
      expect(await closeEvent).toEqual([null]);
      expect(client.closed).toBe(true);
      await waitFor(() => recorder.unpublishes === 1, 5000, 'the publish to end');
      await waitFor(
        () => srv.logLines.some((l) => l.msg === 'publish ended' && l.path === path),
        5000,
        "the server's 'publish ended' log line",
      );
      // What the client sent: the publish flow, and the polite goodbye before the socket ends.
      expect(tap.commands).toEqual([
        'connect',
        'releaseStream',
        'FCPublish',
        'createStream',
        'publish',
        'FCUnpublish',
        'deleteStream',
      ]);
      const firstMedia = tap.messages.findIndex(
        (m) => m.typeId === MessageType.AUDIO || m.typeId === MessageType.VIDEO,
      );
      const setChunkSize = tap.messages.findIndex((m) => m.typeId === MessageType.SET_CHUNK_SIZE);
      expect(setChunkSize).toBeGreaterThan(tap.messages.findIndex((m) => m.typeId === MessageType.COMMAND_AMF0));
      expect(setChunkSize).toBeLessThan(firstMedia);
      expect(tap.messages[setChunkSize]?.payload.readUInt32BE(0)).toBe(4096);
      expect(srv.closed.filter((c) => c.code !== undefined)).toEqual([]);
      // Logs name the server and app, never the stream key.
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('\n')).not.toContain('client/pub');
      expect(lines.join('\n')).toContain(`rtmp://127.0.0.1:${tap.port}/live/***`);
    } finally {
      srv.registry.unsubscribe(path, recorder);
      await tap.stop();
    }
  });

  it('plays a live ffmpeg publish: metadata, sequence headers first, keyframe start, then unpublish', async () => {
    const path = 'live/client/play';
    const recorder = new FrameRecorder();
    srv.registry.subscribe(path, recorder);
    const source = await testEncode();
    const publisher = startLivePublisher(source, srv.url(path), 40_000);
    processes.push(publisher);
    try {
      // Join 1 s in; with the 2 s GOP the server starts us at the keyframe at 0 s or 2 s.
      await waitFor(() => recorder.media('video').length >= 30, 15_000, 'the publisher to be 1 s in');
      const frames: PlayedFrame[] = [];
      const client = await RtmpClient.connect(srv.url(path));
      clients.push(client);
      const unpublished = once(client, 'unpublish');
      await client.play((f) => frames.push(f));
      expect(recorder.media('video').length).toBeLessThan(75); // joined within the first 2.5 s
      await within(unpublished, 30_000, 'the unpublish event');
      const pub = await publisher.done;
      expect(pub.stderr).toBe('');
      expect(pub.code).toBe(0);

      const metadata = frames.findIndex((f) => f.kind === 'data' && decodeAmf0(f.payload)[0] === 'onMetaData');
      expect(metadata).toBeGreaterThanOrEqual(0);
      const videoHeader = frames.findIndex((f) => f.kind === 'video' && classifyVideo(f.payload).isSequenceHeader);
      const audioHeader = frames.findIndex((f) => f.kind === 'audio' && classifyAudio(f.payload).isSequenceHeader);
      const firstMedia = frames.findIndex(
        (f) =>
          (f.kind === 'video' && !classifyVideo(f.payload).isSequenceHeader) ||
          (f.kind === 'audio' && !classifyAudio(f.payload).isSequenceHeader),
      );
      expect(videoHeader).toBeGreaterThanOrEqual(0);
      expect(audioHeader).toBeGreaterThanOrEqual(0);
      expect(videoHeader).toBeLessThan(firstMedia);
      expect(audioHeader).toBeLessThan(firstMedia);
      const video = frames.filter((f) => f.kind === 'video' && !classifyVideo(f.payload).isSequenceHeader);
      expect(classifyVideo(video[0]!.payload).isKeyframe).toBe(true);
      expect(video.length).toBeGreaterThanOrEqual(225);
      // Every played video frame is one the publisher sent, with its timestamp.
      const sent = new Set(recorder.media('video').map((f) => `${f.timestampMs}:${f.md5}`));
      expect(video.every((f) => sent.has(`${f.timestampMs}:${md5(f.payload)}`))).toBe(true);
      expect(client.closed).toBe(false);
    } finally {
      srv.registry.unsubscribe(path, recorder);
    }
  });

  it('rejects a publish to a bad path with PEER_REJECTED', async () => {
    const client = await RtmpClient.connect(srv.url('live/bad'), { connectTimeoutMs: 5000 });
    clients.push(client);
    const closed = once(client, 'close');
    const err = await client.publish().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RtmpError);
    expect((err as RtmpError).code).toBe(RtmpErrorCode.PEER_REJECTED);
    expect((err as RtmpError).message).toMatch(/NetStream\.Publish\.BadName/);
    // rinse closes the connection after a rejected publish; the client reports a clean end.
    await within(closed, 5000, 'the close event');
    expect(client.closed).toBe(true);
    expect(() => client.sendMedia('video', 0, Buffer.alloc(1))).toThrow(/closed/);
  });

  it('rejects a play of a bad path with PEER_REJECTED', async () => {
    const client = await RtmpClient.connect(srv.url('live/nope'), { connectTimeoutMs: 5000 });
    clients.push(client);
    const err = await client
      .play(() => {})
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect((err as RtmpError).code).toBe(RtmpErrorCode.PEER_REJECTED);
    expect((err as RtmpError).message).toMatch(/StreamNotFound/);
  });

  it("rejects connect to an unknown app with PEER_REJECTED and the server's description", async () => {
    const err = await RtmpClient.connect(srv.url('nosuchapp/u/s'), { connectTimeoutMs: 5000 }).then(
      (c) => {
        clients.push(c);
        return null;
      },
      (e: unknown) => e,
    );
    expect((err as RtmpError).code).toBe(RtmpErrorCode.PEER_REJECTED);
    expect((err as RtmpError).message).toMatch(/NetConnection\.Connect\.Rejected.*unknown app/);
  });
});

describe('RtmpClient publishing to real ffmpeg (-listen 1)', () => {
  const clients: RtmpClient[] = [];
  const processes: FfmpegProcess[] = [];
  const dirs: string[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const p of processes.splice(0)) p.child.kill('SIGKILL');
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('ffmpeg receives the test encode; the recording decodes cleanly with every video packet', async () => {
    const source = await testEncode();
    const tags = readFlvTags(readFileSync(source));
    const sourceVideo = (await probePackets(source)).filter((p) => p.codecType === 'video');
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'rinse-client-'));
    dirs.push(dir);
    const out = join(dir, 'out.flv');
    const url = `rtmp://127.0.0.1:${port}/live/x`;
    const receiver = startFfmpeg(
      ['-loglevel', 'error', '-listen', '1', '-i', url, '-c', 'copy', '-f', 'flv', '-y', out],
      45_000,
    );
    processes.push(receiver);
    await sleep(1000);

    // ffmpeg may still be starting: a refused connection does not use up its one accept.
    let client: RtmpClient | null = null;
    const deadline = Date.now() + 10_000;
    while (client === null) {
      try {
        client = await RtmpClient.connect(url, { connectTimeoutMs: 5000 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || Date.now() > deadline) throw err;
        await sleep(200);
      }
    }
    clients.push(client);
    await client.publish();
    await publishTags(client, tags);
    await within(client.close(), 5000, 'close()');

    const result = await within(receiver.done, 30_000, 'ffmpeg to finish');
    expectReceiverClean(result);
    await expectDecodes(out);
    for (const judge of JUDGES) {
      const decoded = await decodeReport(out, judge.ffprobe);
      expect(decoded.errors, `${judge.label}: ffprobe -count_frames errors`).toBe('');
      const receivedVideo = (await probePackets(out, judge.ffprobe)).filter((p) => p.codecType === 'video');
      expect(receivedVideo.length, judge.label).toBe(sourceVideo.length);
      expect(
        receivedVideo.map((p) => p.md5),
        `${judge.label}: video packets`,
      ).toEqual(sourceVideo.map((p) => p.md5));
      expect(decoded.videoFrames, `${judge.label}: decoded video frames`).toBe(sourceVideo.length);
    }
  });
});

interface ScriptedPeer {
  send(csid: number, typeId: number, streamId: number, payload: Buffer): void;
  writer: ChunkWriter;
  socket: Socket;
}

/**
 * A scripted RTMP server: digest/simple handshake, then `script` gets every message the
 * client sends and a writer to answer with.
 */
class ScriptedServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  readonly received: RtmpMessage[] = [];
  port = 0;

  constructor(script: (m: RtmpMessage, peer: ScriptedPeer) => void) {
    this.server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('error', () => {});
      const writer = new ChunkWriter();
      const send = (csid: number, typeId: number, streamId: number, payload: Buffer): void => {
        if (!socket.destroyed) socket.write(writer.write(csid, { typeId, streamId, timestampMs: 0, payload }));
      };
      const parser = new ChunkParser({
        onMessage: (m) => {
          this.received.push(m);
          script(m, { send, writer, socket });
        },
      });
      const hs = new ServerHandshake({ send: (b) => socket.write(b) });
      socket.on('data', (b: Buffer) => {
        if (!hs.done) {
          const rest = hs.push(b);
          if (rest !== undefined && rest.length > 0) parser.push(rest);
        } else {
          parser.push(b);
        }
      });
    });
  }

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  stop(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }
}

function command(values: Amf0Value[]): Buffer {
  return encodeAmf0(...values);
}

describe('RtmpClient control duties and failures', () => {
  const clients: RtmpClient[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    for (const c of cleanups.splice(0)) await c();
  });

  it('answers pings, acknowledges each announced window, honours Set Chunk Size, and dies cleanly on a protocol error', async () => {
    const WINDOW = 5000;
    let phase = 0;
    const srv = await new ScriptedServer((m, { send, writer, socket }) => {
      if (m.typeId === MessageType.COMMAND_AMF0 && decodeAmf0(m.payload)[0] === 'connect') {
        const w = windowAckSizeMessage(WINDOW);
        send(CONTROL_CSID, w.typeId, 0, w.payload);
        const cs = setChunkSizeMessage(1000);
        send(CONTROL_CSID, cs.typeId, 0, cs.payload);
        writer.chunkSize = 1000;
        send(
          3,
          MessageType.COMMAND_AMF0,
          0,
          command(['_result', 1, { fmsVer: 'test' }, { level: 'status', code: 'NetConnection.Connect.Success' }]),
        );
        const ping = userControlMessage(UserControlEvent.PING_REQUEST, 123456);
        send(CONTROL_CSID, ping.typeId, 0, ping.payload);
        // 6 kB in 1000-byte chunks (the new chunk size): more than one window.
        send(3, MessageType.COMMAND_AMF0, 0, command(['onBWDone', 0, null, 'x'.repeat(6000)]));
        phase = 1;
      } else if (m.typeId === MessageType.ACKNOWLEDGEMENT && phase === 1) {
        phase = 2;
        send(3, MessageType.COMMAND_AMF0, 0, command(['onBWDone', 0, null, 'y'.repeat(6000)]));
      } else if (m.typeId === MessageType.ACKNOWLEDGEMENT && phase === 2) {
        phase = 3;
        // Type 0x33 is no RTMP message type: the client must close with MESSAGE_TYPE.
        socket.write(Buffer.from([0x03, 0, 0, 0, 0, 0, 1, 0x33, 0, 0, 0, 0, 0]));
      }
    }).start();
    cleanups.push(() => srv.stop());

    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${srv.port}/live/k`, { connectTimeoutMs: 5000 });
    clients.push(client);
    const [err] = (await within(once(client, 'close'), 5000, 'the close event')) as [Error | null];
    expect(err).toBeInstanceOf(RtmpError);
    expect((err as RtmpError).code).toBe(RtmpErrorCode.MESSAGE_TYPE);
    expect(client.closed).toBe(true);

    const pong = srv.received.find(
      (m) => m.typeId === MessageType.USER_CONTROL && m.payload.readUInt16BE(0) === UserControlEvent.PING_RESPONSE,
    );
    expect(pong?.payload.readUInt32BE(2)).toBe(123456);
    const acks = srv.received
      .filter((m) => m.typeId === MessageType.ACKNOWLEDGEMENT)
      .map((m) => m.payload.readUInt32BE(0));
    expect(acks.length).toBe(2);
    expect(acks[0]).toBeGreaterThanOrEqual(WINDOW);
    expect(acks[1]! - acks[0]!).toBeGreaterThanOrEqual(WINDOW);
    const announced = srv.received.find((m) => m.typeId === MessageType.WINDOW_ACK_SIZE);
    expect(announced?.payload.readUInt32BE(0)).toBe(2_500_000);
  });

  it('rejects quickly when nothing listens on the port', async () => {
    const port = await freePort();
    const start = Date.now();
    const err = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/a/b`, { connectTimeoutMs: 10_000 }).then(
      (c) => {
        clients.push(c);
        return null;
      },
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(Date.now() - start).toBeLessThan(1000);
  });

  it('rejects within connectTimeoutMs when the server accepts but never answers', async () => {
    const sockets = new Set<Socket>();
    let hungUp = 0;
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => hungUp++);
      s.resume(); // read (and ignore) C0+C1, so the client's FIN is seen
    });
    const port = await listen(silent);
    cleanups.push(() => closeServer(silent, sockets));
    const start = Date.now();
    const err = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/a/b`, { connectTimeoutMs: 300 }).then(
      (c) => {
        clients.push(c);
        return null;
      },
      (e: unknown) => e,
    );
    const elapsed = Date.now() - start;
    expect((err as RtmpError).code).toBe(RtmpErrorCode.HANDSHAKE_TIMEOUT);
    expect((err as RtmpError).message).not.toContain('a/b');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
    // The client hung up: the server side sees its socket close.
    await waitFor(() => hungUp === 1, 2000, 'the silent server to see the hang-up');
  });

  it('rejects with HANDSHAKE_TRUNCATED when the server hangs up during the handshake', async () => {
    const sockets = new Set<Socket>();
    const rude = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
      s.once('data', () => s.end(Buffer.from([3])));
    });
    const port = await listen(rude);
    cleanups.push(() => closeServer(rude, sockets));
    const err = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/a/b`, { connectTimeoutMs: 5000 }).then(
      (c) => {
        clients.push(c);
        return null;
      },
      (e: unknown) => e,
    );
    expect((err as RtmpError).code).toBe(RtmpErrorCode.HANDSHAKE_TRUNCATED);
  });
});
