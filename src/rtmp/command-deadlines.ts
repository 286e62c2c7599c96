/**
 * A session must move on after the handshake: connect within one deadline, then publish or
 * play within another. Bytes that trickle in do not extend them (they do defeat the idle
 * timeout), so a slow client cannot hold a connection slot.
 */
import { RtmpError, RtmpErrorCode } from './errors.js';

export interface CommandDeadlineLimits {
  /** After the handshake, connect must be accepted within this, in ms. */
  connectTimeoutMs: number;
  /** After connect, a publish or play must arrive within this, in ms. */
  publishTimeoutMs: number;
}

export class CommandDeadlines {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly limits: CommandDeadlineLimits,
    private readonly expire: (err: RtmpError) => void,
  ) {}

  handshakeDone(): void {
    const ms = this.limits.connectTimeoutMs;
    this.arm(ms, new RtmpError(RtmpErrorCode.CONNECT_TIMEOUT, `no connect within ${ms} ms of the handshake`));
  }

  connected(): void {
    const ms = this.limits.publishTimeoutMs;
    this.arm(ms, new RtmpError(RtmpErrorCode.PUBLISH_TIMEOUT, `no publish or play within ${ms} ms of connect`));
  }

  /** A publish or play arrived, or the session ended. */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number, err: RtmpError): void {
    this.clear();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.expire(err);
    }, ms);
  }
}
