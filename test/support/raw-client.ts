/**
 * A hand-driven RTMP client for protocol tests: it does the handshake, then sends
 * whatever bytes or messages a test crafts, valid or not, over a real socket.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import type { Amf0Value } from '../../src/media/amf0.js';
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

  static async open(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
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

  connectApp(app = 'live'): void {
    this.command(0, 'connect', 1, { app, tcUrl: `rtmp://127.0.0.1/${app}`, flashVer: 'FMLE/3.0', objectEncoding: 0 });
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
