/**
 * When the upstream tries again after a failure. An ingest that restarts is usually back
 * within seconds, and every second until the relay notices is a second the receiver waits:
 * for the first `fastPhaseMs` of an outage the attempts are at most `fastRetryMs` apart
 * (`firstRetryMs`, doubling up to that). A destination still gone after that is likely down
 * for longer, so the delay doubles on up to `maxRetryMs`. Each delay is shortened by up to a
 * fifth at random, so streams that lost one ingest together do not retry in step; it is never
 * lengthened, so the bounds hold.
 */
export interface RetrySchedule {
  /** The first delay, in ms. */
  firstRetryMs: number;
  /** The longest delay during the fast phase, in ms. */
  fastRetryMs: number;
  /** How long from the start of an outage the fast phase lasts, in ms. */
  fastPhaseMs: number;
  /** The longest delay after it, in ms. */
  maxRetryMs: number;
}

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = {
  firstRetryMs: 250,
  fastRetryMs: 500,
  fastPhaseMs: 30_000,
  maxRetryMs: 5_000,
};

/**
 * The delay before the next attempt, `failures` attempts (>= 1) into an outage that began
 * `outageMs` ago, of which `slowFailures` came after the fast phase.
 */
export function retryDelayMs(
  schedule: RetrySchedule,
  failures: number,
  outageMs: number,
  slowFailures: number,
  random: () => number = Math.random,
): number {
  const fast = Math.min(schedule.fastRetryMs, schedule.firstRetryMs * 2 ** Math.max(0, failures - 1));
  const delay =
    outageMs < schedule.fastPhaseMs
      ? fast
      : Math.min(schedule.maxRetryMs, Math.max(fast, schedule.fastRetryMs * 2 ** Math.max(0, slowFailures)));
  return Math.max(1, Math.round(delay * (1 - 0.2 * random())));
}
