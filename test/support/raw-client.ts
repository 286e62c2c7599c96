/**
 * A hand-driven RTMP client for protocol tests: it does the handshake, then sends
 * whatever bytes or messages a test crafts, valid or not, over a real socket.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Amf0Value } from '../../src/media/amf0.js';
import { decodeAmf0 } from '../../src/media/amf0-reader.js';
import { encodeAmf0 } from '../../src/media/amf0-writer.js';
import { ChunkWriter, type OutgoingMessage } from '../../src/rtmp/chunk-writer.js';
import { ChunkParser } from '../../src/rtmp/chunk-parser.js';
import { ClientHandshake } from '../../src/rtmp/handshake.js';
import { MessageType, type RtmpMessage } from '../../src/rtmp/message-types.js';

export class RawClient {
  readonly socket: Socket;
  readonly writer = new ChunkWriter();
  /** `address:port` as the server sees us (taken at connect: a closed socket forgets it). */
  readonly remote: string;
  received = 0;
  ended = false;
  /** What the server sent after the handshake, parsed. */
  readonly messages: RtmpMessage[] = [];
  private readonly parser = new ChunkParser({ onMessage: (m) => this.messages.push(m) });

  private constructor(socket: Socket) {
    this.socket = socket;
    this.remote = `${socket.localAddress}:${socket.localPort}`;
    socket.on('data', (b: Buffer) => {
      this.received += b.length;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
    });
  }

  /** Connect to 127.0.0.1:`port`, from `localAddress` (another loopback address plays another host). */
  static async open(port: number, localAddress?: string): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    await once(socket, 'connect');
    return new RawClient(socket);
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Complete a simple handshake. */
  async handshake(): Promise<void> {
    const hs = new ClientHandshake({ send: (b) => this.socket.write(b), mode: 'simple' });
    const done = new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer): void => {
        try {
          const rest = hs.push(b);
          if (rest !== undefined) {
            this.socket.off('data', onData);
            this.parser.push(rest);
            this.socket.on('data', (more: Buffer) => this.parser.push(more));
            resolve();
          }
        } catch (err) {
          reject(err as Error);
        }
      };
      this.socket.on('data', onData);
      this.socket.once('close', () => reject(new Error('closed during handshake')));
    });
    hs.start();
    await done;
  }

  send(csid: number, message: OutgoingMessage): void {
    this.socket.write(this.writer.write(csid, message));
  }

  command(streamId: number, ...values: Amf0Value[]): void {
    this.send(3, { typeId: MessageType.COMMAND_AMF0, streamId, timestampMs: 0, payload: encodeAmf0(...values) });
  }

  connectApp(app = 'live', tcUrl = `rtmp://127.0.0.1/${app}`): void {
    this.command(0, 'connect', 1, { app, tcUrl, flashVer: 'FMLE/3.0', objectEncoding: 0 });
  }

  /**
   * Handshake, connect, releaseStream, FCPublish, createStream, publish `name`; resolves with
   * the first onStatus (NetStream.Publish.Start or a refusal) and the message stream id.
   */
  static async publish(
    port: number,
    name: string,
    connect: { app?: string; tcUrl?: string } = {},
  ): Promise<{ client: RawClient; status: string; description: string; streamId: number }> {
    const c = await RawClient.open(port);
    await c.handshake();
    c.connectApp(connect.app, connect.tcUrl);
    await c.waitForMessage(isCommand('_result'), 3000);
    c.command(0, 'releaseStream', 2, null, name);
    c.command(0, 'FCPublish', 3, null, name);
    c.command(0, 'createStream', 4, null);
    const created = await c.waitForMessage((m) => isCommand('_result')(m) && decodeAmf0(m.payload)[1] === 4, 3000);
    const streamId = decodeAmf0(created.payload)[3] as number;
    c.command(streamId, 'publish', 5, null, name, 'live');
    const status = await c.waitForMessage(isCommand('onStatus'), 5000);
    const info = decodeAmf0(status.payload)[3] as { code?: string; description?: string };
    return { client: c, status: info.code ?? '', description: info.description ?? '', streamId };
  }

  /** Resolve when the server has closed the connection, or after `timeoutMs`. */
  async closedBy(timeoutMs: number): Promise<boolean> {
    if (this.ended) return true;
    const timer = new Promise<boolean>((r) => setTimeout(() => r(false), timeoutMs));
    const closed = once(this.socket, 'close').then(() => true);
    return Promise.race([closed, timer]);
  }

  /** Resolve with the first message from the server that matches. */
  async waitForMessage(match: (m: RtmpMessage) => boolean, timeoutMs: number): Promise<RtmpMessage> {
    const start = Date.now();
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() - start > timeoutMs) throw new Error(`no matching message from the server within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Matches a command message by name. */
export const isCommand =
  (name: string) =>
  (m: RtmpMessage): boolean =>
    m.typeId === MessageType.COMMAND_AMF0 && decodeAmf0(m.payload)[0] === name;

/** The `code` of an onStatus message's info object. */
export function statusCode(m: RtmpMessage): string {
  const info = decodeAmf0(m.payload)[3] as { code?: string };
  return info.code ?? '';
}

/** Send `bytes` one at a time, every `everyMs` (a slowloris), until sent or the socket closes. */
export function trickle(c: RawClient, bytes: Buffer, everyMs = 300): void {
  let i = 0;
  const timer = setInterval(() => {
    if (c.socket.destroyed || i >= bytes.length) clearInterval(timer);
    else c.socket.write(bytes.subarray(i, ++i));
  }, everyMs);
  c.socket.once('close', () => clearInterval(timer));
}
