/** AckWatch: a receiver that stopped acknowledging is told from a slow one. */
import { describe, expect, it } from 'vitest';
import { AckWatch, type AckSource } from './ack-watch.js';

const WINDOW = 256 * 1024;

describe('AckWatch', () => {
  it('judges nothing until the receiver has acknowledged once', () => {
    const w = new AckWatch(3000, WINDOW, 0);
    const silent: AckSource = { bytesWritten: 50 * WINDOW, writableLength: 0, bytesAcknowledged: null };
    expect(w.check(silent, 60_000)).toBeNull();
  });

  it('a stall: acknowledgement owed for longer than the deadline', () => {
    const w = new AckWatch(3000, WINDOW, 0);
    const s = { bytesWritten: WINDOW, writableLength: 0, bytesAcknowledged: WINDOW as number | null };
    expect(w.check(s, 0)).toBeNull();
    // The receiver stops: bytes keep going out, no acknowledgement comes.
    s.bytesWritten = WINDOW * 3;
    // Owed since the last check that found nothing owed (checks come every 250 ms).
    expect(w.check(s, 250)).toBeNull();
    expect(w.check(s, 2900)).toBeNull();
    expect(w.check(s, 3100)).toMatchObject({ unacknowledgedBytes: 2 * WINDOW, owedForMs: 3100 });
    // An acknowledgement clears it.
    s.bytesAcknowledged = 3 * WINDOW;
    expect(w.check(s, 3200)).toBeNull();
  });

  it('a slow receiver that acknowledges window by window is never stalled', () => {
    const w = new AckWatch(3000, WINDOW, 0);
    let acked = 0;
    for (let t = 0; t < 60_000; t += 250) {
      // 4 windows always out, one acknowledged every 2 s.
      if (t % 2000 === 0) acked += WINDOW;
      expect(w.check({ bytesWritten: acked + 4 * WINDOW, writableLength: 0, bytesAcknowledged: acked }, t)).toBeNull();
    }
  });

  it('bytes still queued in the process are not owed', () => {
    const w = new AckWatch(3000, WINDOW, 0);
    const s: AckSource = { bytesWritten: 10 * WINDOW, writableLength: 9 * WINDOW, bytesAcknowledged: WINDOW };
    expect(w.check(s, 0)).toBeNull();
    expect(w.check(s, 10_000)).toBeNull();
  });

  it('a receiver that acknowledges in larger steps than the window is given room for them', () => {
    const w = new AckWatch(3000, WINDOW, 0);
    // Acknowledges every 4 windows: 5 windows out is normal for it.
    w.check({ bytesWritten: 4 * WINDOW, writableLength: 0, bytesAcknowledged: 4 * WINDOW }, 0);
    w.check({ bytesWritten: 8 * WINDOW, writableLength: 0, bytesAcknowledged: 8 * WINDOW }, 100);
    expect(w.check({ bytesWritten: 13 * WINDOW, writableLength: 0, bytesAcknowledged: 8 * WINDOW }, 10_000)).toBeNull();
  });
});
