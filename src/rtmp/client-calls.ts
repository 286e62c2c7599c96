/**
 * The client's outstanding commands (RTMP 1.0 §7.2.1.1 transaction ids): each call waits for
 * the _result or _error with its transaction id, and one play or publish waits for its
 * NetStream onStatus (§7.2.2). When the connection ends, every one of them is rejected.
 */
import { Amf0EcmaArray, Amf0TypedObject, type Amf0Object, type Amf0Value } from '../media/amf0.js';
import { RtmpError, RtmpErrorCode } from './errors.js';

interface PendingCall {
  readonly command: string;
  resolve(values: Amf0Value[]): void;
  reject(err: Error): void;
}

interface StatusWaiter {
  readonly command: 'play' | 'publish';
  resolve(): void;
  reject(err: Error): void;
}

/** What an onStatus did to a waiting play or publish. */
export type StatusOutcome = { command: 'play' | 'publish'; outcome: 'started' | 'refused' | 'other' } | null;

/** An info object (§7.2.2 onStatus, _result/_error arguments) in whichever AMF0 shape the server chose. */
export function infoObject(value: Amf0Value): Record<string, Amf0Value> | undefined {
  if (value instanceof Amf0EcmaArray) return value.entries;
  if (value instanceof Amf0TypedObject) return value.properties;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return undefined;
  if (!Object.getPrototypeOf(value) || Object.getPrototypeOf(value) === Object.prototype) return value as Amf0Object;
  return undefined;
}

/** A server-sent string, bounded for messages and logs. */
export function text(value: Amf0Value | undefined): string {
  return typeof value === 'string' ? value.slice(0, 256) : '';
}

export class ClientCalls {
  private readonly pending = new Map<number, PendingCall>();
  private statusWaiter: StatusWaiter | null = null;
  private nextId = 1;
  /** Set once the connection ended: new calls reject at once with `endedError`. */
  private endedError: ((command: string) => Error) | null = null;

  /** The next transaction id (§7.2.1.1: 1 is connect's; ids only grow). */
  transactionId(): number {
    return this.nextId++;
  }

  /** A promise for the _result (resolve) or _error (reject) of one transaction. */
  expectResult(command: string, transactionId: number): Promise<Amf0Value[]> {
    return new Promise((resolve, reject) => {
      if (this.endedError) reject(this.endedError(command));
      else this.pending.set(transactionId, { command, resolve, reject });
    });
  }

  waitForStatus(command: 'play' | 'publish'): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.endedError) reject(this.endedError(command));
      else this.statusWaiter = { command, resolve, reject };
    });
  }

  /** A _result or _error arrived; answers we do not wait for (releaseStream, FCPublish...) are dropped. */
  answer(name: '_result' | '_error', transactionId: number, values: Amf0Value[]): void {
    const call = this.pending.get(transactionId);
    if (call === undefined) return;
    this.pending.delete(transactionId);
    if (name === '_result') {
      call.resolve(values);
      return;
    }
    const info = infoObject(values[3] ?? null);
    call.reject(
      new RtmpError(
        RtmpErrorCode.PEER_REJECTED,
        `${call.command} refused: ${text(info?.code) || 'no code'}: ${text(info?.description)}`,
      ),
    );
  }

  /** An onStatus: settles a waiting play or publish on its Start code or on an error status. */
  status(info: Record<string, Amf0Value>): StatusOutcome {
    const waiter = this.statusWaiter;
    if (waiter === null) return null;
    const code = text(info.code);
    const wanted = waiter.command === 'play' ? 'NetStream.Play.Start' : 'NetStream.Publish.Start';
    if (code === wanted) {
      this.statusWaiter = null;
      waiter.resolve();
      return { command: waiter.command, outcome: 'started' };
    }
    if (text(info.level) === 'error' || /\.(StreamNotFound|Failed|BadName)$/.test(code)) {
      this.statusWaiter = null;
      waiter.reject(
        new RtmpError(
          RtmpErrorCode.PEER_REJECTED,
          `${waiter.command} refused: ${code || 'no code'}: ${text(info.description)}`,
        ),
      );
      return { command: waiter.command, outcome: 'refused' };
    }
    return { command: waiter.command, outcome: 'other' };
  }

  /** The connection ended: reject everything waiting, with `err` or the error `endedError` makes. */
  end(err: Error | null, endedError: (command: string) => Error): void {
    this.endedError = endedError;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const call of pending) call.reject(err ?? endedError(call.command));
    const waiter = this.statusWaiter;
    this.statusWaiter = null;
    if (waiter) waiter.reject(err ?? endedError(waiter.command));
  }
}
