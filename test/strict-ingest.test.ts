/**
 * The RTMP client against a strict ingest that behaves like nginx-rtmp and Cloudflare do:
 * it answers releaseStream and FCPublish with `_error`, and sends NetStream.Publish.Start
 * only after a delay. The client must carry on past the errors and send no media before
 * Publish.Start. The ingest is built here from our own handshake, chunk and AMF0 code over
 * a real socket.
 */
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { Amf0Value } from '../src/media/amf0.js';
import { decodeAmf0 } from '../src/media/amf0-reader.js';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { ChunkParser } from '../src/rtmp/chunk-parser.js';
import { ChunkWriter } from '../src/rtmp/chunk-writer.js';
import { ServerHandshake } from '../src/rtmp/handshake.js';
import { MessageType, type RtmpMessage } from '../src/rtmp/message-types.js';
import { RtmpClient } from '../src/rtmp/client.js';

/** Publish.Start is held back this long after publish, in ms. */
const START_DELAY_MS = 300;

interface Seen {
  commands: string[];
  mediaBeforeStart: number;
  mediaAfterStart: number;
  acknowledgements: number;
  ackedBytes: number;
}

function strictIngest(seen: Seen): ReturnType<typeof createServer> {
  return createServer((socket: Socket) => {
    const writer = new ChunkWriter();
    let started = false;
    const command = (streamId: number, ...values: Amf0Value[]): void => {
      socket.write(
        writer.write(3, { typeId: MessageType.COMMAND_AMF0, streamId, timestampMs: 0, payload: encodeAmf0(...values) }),
      );
    };
    const onMessage = (m: RtmpMessage): void => {
      if (m.typeId === MessageType.ACKNOWLEDGEMENT) {
        seen.acknowledgements++;
        seen.ackedBytes = Math.max(seen.ackedBytes, m.payload.readUInt32BE(0));
      }
      if (m.typeId === MessageType.AUDIO || m.typeId === MessageType.VIDEO) {
        if (started) seen.mediaAfterStart++;
        else seen.mediaBeforeStart++;
      }
      if (m.typeId !== MessageType.COMMAND_AMF0) return;
      const [name, txn] = decodeAmf0(m.payload) as [string, number];
      seen.commands.push(name);
      const error = { level: 'error', code: 'NetConnection.Call.Failed', description: `${name} not supported here` };
      switch (name) {
        case 'connect':
          // A small window so the client has acknowledgements to send.
          socket.write(
            writer.write(2, {
              typeId: MessageType.WINDOW_ACK_SIZE,
              streamId: 0,
              timestampMs: 0,
              payload: Buffer.from([0, 0, 0x40, 0]),
            }),
          );
          command(
            0,
            '_result',
            txn,
            { fmsVer: 'strict/1,0' },
            { level: 'status', code: 'NetConnection.Connect.Success', description: 'ok' },
          );
          // 48 kB of commands the client ignores: three windows' worth to acknowledge.
          for (let i = 0; i < 3; i++) command(0, 'onServerNote', 0, null, 'x'.repeat(16 * 1024));
          return;
        case 'releaseStream':
        case 'FCPublish':
          return command(0, '_error', txn, null, error);
        case 'createStream':
          return command(0, '_result', txn, null, 1);
        case 'publish':
          setTimeout(() => {
            started = true;
            command(1, 'onStatus', 0, null, { level: 'status', code: 'NetStream.Publish.Start', description: 'go' });
          }, START_DELAY_MS);
          return;
        default:
      }
    };
    const parser = new ChunkParser({ onMessage });
    const handshake = new ServerHandshake({ send: (b) => socket.write(b) });
    socket.on('data', (data: Buffer) => {
      if (!handshake.done) {
        const rest = handshake.push(data);
        if (rest !== undefined && rest.length > 0) parser.push(rest);
      } else {
        parser.push(data);
      }
    });
    socket.on('error', () => {});
  });
}

describe('RtmpClient against a strict ingest', () => {
  it('carries on past _error for releaseStream/FCPublish, sends media only after Publish.Start, and acknowledges', async () => {
    const seen: Seen = { commands: [], mediaBeforeStart: 0, mediaAfterStart: 0, acknowledgements: 0, ackedBytes: 0 };
    const server = strictIngest(seen);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${port}/live/key`);
    try {
      const started = Date.now();
      await client.publish();
      expect(Date.now() - started).toBeGreaterThanOrEqual(START_DELAY_MS - 20);
      const frame = Buffer.alloc(4000, 0x17);
      for (let i = 0; i < 100; i++) client.sendMedia('video', i * 33, frame);
      await new Promise((r) => setTimeout(r, 300));
      expect(seen.commands.slice(0, 5)).toEqual(['connect', 'releaseStream', 'FCPublish', 'createStream', 'publish']);
      expect(seen.mediaBeforeStart).toBe(0);
      expect(seen.mediaAfterStart).toBe(100);
      // 48 kB received against a 16 kB window: acknowledged, up to at least 3 windows.
      expect(seen.acknowledgements).toBeGreaterThanOrEqual(1);
      expect(seen.ackedBytes).toBeGreaterThanOrEqual(3 * 16 * 1024);
      expect(client.closed).toBe(false);
    } finally {
      await client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
