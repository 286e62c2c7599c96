/**
 * One coarse timer for every session's periodic checks and deadlines (an RTMP session's idle
 * and handshake deadlines, an upstream's health, a relay session's stalled publisher and gap
 * to fill): each adds its check and removes it when done, and the timer runs only while
 * some check is registered, so an idle process has no timer at all.
 */

/** How often the checks run, in ms: fine enough for the gap filler's 500 ms margin. */
export const SESSION_TICK_MS = 100;

export class SessionTicker {
  private readonly periodMs: number;
  private readonly checks = new Set<(nowMs: number) => void>();
  private timer: NodeJS.Timeout | null = null;

  constructor(periodMs = SESSION_TICK_MS) {
    this.periodMs = periodMs;
  }

  /** Run `check` on every tick; returns the function that removes it. */
  add(check: (nowMs: number) => void): () => void {
    this.checks.add(check);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), this.periodMs);
      this.timer.unref();
    }
    return () => {
      this.checks.delete(check);
      if (this.checks.size === 0 && this.timer !== null) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  private tick(): void {
    const nowMs = Date.now();
    for (const check of this.checks) check(nowMs);
  }
}

/** The process's ticker: every session in it shares this one timer. */
export const sessionTicker = new SessionTicker();
