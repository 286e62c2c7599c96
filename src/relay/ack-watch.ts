/**
 * Tells an upstream that stopped reading (its TCP connection still open, no reset, nothing
 * acknowledged) from one that is slow, by the RTMP Acknowledgements (§5.4.3) it sends: a
 * receiver acknowledges each window of bytes it has read. Once more than a window and a
 * quarter (of the largest step the receiver has been seen to acknowledge, at least the
 * window announced) is out unacknowledged, an acknowledgement is owed; owed for longer than
 * `timeoutMs` with none arriving, the session is stalled. A slow link still acknowledges, a
 * window at a time, so it is never taken for a stalled one; a receiver that has never
 * acknowledged anything cannot be judged and never is.
 */
export interface AckSource {
  /** Bytes written to the connection, queued ones included. */
  readonly bytesWritten: number;
  /** Of those, still queued in the process (not yet handed to the kernel). */
  readonly writableLength: number;
  /** Of bytesWritten, how many the peer acknowledged; null until its first acknowledgement. */
  readonly bytesAcknowledged: number | null;
}

export interface AckStall {
  /** Bytes out that the receiver has not acknowledged. */
  unacknowledgedBytes: number;
  /** How long an acknowledgement has been owed, in ms. */
  owedForMs: number;
}

/** Beyond the window, this much more may be out before an acknowledgement is owed, in bytes. */
const SLACK_BYTES = 16 * 1024;

export class AckWatch {
  private readonly timeoutMs: number;
  private readonly windowBytes: number;
  private lastAcked: number | null = null;
  private largestStep = 0;
  /** The last time the receiver was not behind, or acknowledged something. */
  private fineAtMs: number;

  constructor(timeoutMs: number, windowBytes: number, nowMs = Date.now()) {
    this.timeoutMs = timeoutMs;
    this.windowBytes = windowBytes;
    this.fineAtMs = nowMs;
  }

  /** Call every few hundred ms while the session is live; returns the stall once one is seen. */
  check(source: AckSource, nowMs = Date.now()): AckStall | null {
    const acked = source.bytesAcknowledged;
    if (acked === null) {
      this.fineAtMs = nowMs;
      return null;
    }
    if (this.lastAcked === null || acked > this.lastAcked) {
      this.largestStep = Math.max(this.largestStep, acked - (this.lastAcked ?? 0));
      this.lastAcked = acked;
      this.fineAtMs = nowMs;
    }
    const unacknowledgedBytes = Math.max(0, source.bytesWritten - source.writableLength - acked);
    const owedAt = Math.max(this.windowBytes, this.largestStep) * 1.25 + SLACK_BYTES;
    if (unacknowledgedBytes <= owedAt) {
      this.fineAtMs = nowMs;
      return null;
    }
    const owedForMs = nowMs - this.fineAtMs;
    return owedForMs > this.timeoutMs ? { unacknowledgedBytes, owedForMs } : null;
  }
}
