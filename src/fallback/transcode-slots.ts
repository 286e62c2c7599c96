/**
 * The concurrent transcode cap, shared by every stream of one relay. A libx264 transcode
 * costs as much CPU as many remuxed streams, so slots are scarce: at most one per user
 * (one account's streams cannot take them all), and the fallback switch asks for one only
 * once a publisher has streamed for a while, and gives it back as soon as that publisher
 * leaves.
 */

export type SlotAnswer = 'taken' | 'full' | 'user-has-one';

export class TranscodeSlots {
  private readonly holders = new Map<string, number>();
  private activeCount = 0;
  readonly stats = { started: 0, refused: 0, spawns: 0, crashes: 0 };

  constructor(readonly max: number) {}

  get active(): number {
    return this.activeCount;
  }

  /** Whether `take(userId, perUser)` would succeed now (no counters move). */
  wouldTake(userId: string, perUser = true): boolean {
    return this.activeCount < this.max && !(perUser && (this.holders.get(userId) ?? 0) > 0);
  }

  /**
   * Take a slot for one of `userId`'s streams. `perUser` false (a transcode the operator
   * forced) skips the one-per-user rule, not the cap.
   */
  take(userId: string, perUser = true): SlotAnswer {
    if (this.activeCount >= this.max) {
      this.stats.refused++;
      return 'full';
    }
    const held = this.holders.get(userId) ?? 0;
    if (perUser && held > 0) {
      this.stats.refused++;
      return 'user-has-one';
    }
    this.holders.set(userId, held + 1);
    this.activeCount++;
    this.stats.started++;
    return 'taken';
  }

  release(userId: string): void {
    const held = this.holders.get(userId) ?? 0;
    if (held === 0) return;
    if (held === 1) this.holders.delete(userId);
    else this.holders.set(userId, held - 1);
    this.activeCount--;
  }
}

/** Between two asks for a slot while waiting, in ms: a clock read per frame, an ask a few times a second. */
const SLOT_RETRY_MS = 250;

export type SlotAsk = { granted: true } | { granted: false; cause: string; causeChanged: boolean };

/**
 * One stream's claim on a slot: what it wants, since when its publisher streams, whether it
 * holds one. The fallback switch asks through it and logs what it says.
 */
export class SlotClaim {
  /** Why a transcode is wanted (null: it is not); `forced` by configuration. */
  wanted: { reason: string; forced: boolean } | null = null;
  private holdingSlot = false;
  /** When the current publisher's first frame came (null: no publisher, or none yet). */
  private mediaSinceMs: number | null = null;
  private nextAskMs = 0;
  private lastCause: string | null = null;

  constructor(
    private readonly slots: TranscodeSlots,
    private readonly userId: string,
    /** A publisher must have sent media this long before the stream may take a slot, in ms. */
    private readonly waitMs: number,
  ) {}

  get holding(): boolean {
    return this.holdingSlot;
  }

  /** A publisher attached (or left): its wait starts again at its first frame. */
  publisherChanged(): void {
    this.mediaSinceMs = null;
  }

  /**
   * A frame arrived: notes the publisher's first; says whether an ask is due. Reads the clock
   * only for a publisher's first frame or while a slot is wanted, not per remuxed frame.
   */
  frame(): boolean {
    const waiting = this.wanted !== null && !this.holdingSlot;
    if (this.mediaSinceMs !== null && !waiting) return false;
    const nowMs = Date.now();
    this.mediaSinceMs ??= nowMs;
    return waiting && nowMs >= this.nextAskMs;
  }

  ask(nowMs: number): SlotAsk {
    const wanted = this.wanted;
    if (this.holdingSlot) return { granted: true };
    if (wanted === null) return { granted: false, cause: 'not wanted', causeChanged: false };
    this.nextAskMs = nowMs + SLOT_RETRY_MS;
    const waitedMs = this.mediaSinceMs === null ? 0 : nowMs - this.mediaSinceMs;
    let cause: string;
    if (!wanted.forced && waitedMs < this.waitMs) cause = 'publisher too new';
    else {
      const answer = this.slots.take(this.userId, !wanted.forced);
      if (answer === 'taken') {
        this.holdingSlot = true;
        this.lastCause = null;
        return { granted: true };
      }
      cause = answer === 'full' ? 'every slot taken' : 'user holds a slot';
    }
    const causeChanged = cause !== this.lastCause;
    this.lastCause = cause;
    return { granted: false, cause, causeChanged };
  }

  giveBack(): void {
    if (this.holdingSlot) this.slots.release(this.userId);
    this.holdingSlot = false;
    this.lastCause = null;
  }
}
