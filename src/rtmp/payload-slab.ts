/**
 * Message buffers for one session, carved out of slabs the session owns.
 *
 * Why: a relay keeps each stream's frames since the latest keyframe (for a reconnecting
 * upstream and late players), so most payloads outlive a young-generation collection. With
 * one allocation per message, each of them is a separate external buffer that V8 must track
 * and free, which costs a busy relay measurably more CPU than a few slabs (see the profiling notes
 * in bench/README.md). Slabs are per session, so a kept frame pins only its own stream's recent
 * bytes, never another stream's; a payload handed out is never written again. The chunk
 * parser takes only audio and video payloads from here: a relay keeps those a GOP at a time,
 * so what a slab pins beyond the caches' byte limits is at most the slabs at the GOP's ends.
 */

/** Payloads above this share of a slab get a buffer of their own. */
const OWN_BUFFER_FRACTION = 4;
/** Views start on 8-byte boundaries, as Node's own buffer pool does. */
const ALIGN_MASK = 7;

export class PayloadSlab {
  private readonly slabBytes: number;
  private slab: Buffer | null = null;
  private used = 0;

  /** `slabBytes`: size of each slab; 0 gives every payload a buffer of its own. */
  constructor(slabBytes: number) {
    if (!Number.isInteger(slabBytes) || slabBytes < 0)
      throw new RangeError(`slab size ${slabBytes} is not a byte count`);
    this.slabBytes = slabBytes;
  }

  /** A buffer of `size` bytes that nothing else will ever write to. */
  alloc(size: number): Buffer {
    if (size * OWN_BUFFER_FRACTION > this.slabBytes) return Buffer.allocUnsafe(size);
    if (this.slab === null || this.used + size > this.slabBytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes);
      this.used = 0;
    }
    const out = this.slab.subarray(this.used, this.used + size);
    this.used = (this.used + size + ALIGN_MASK) & ~ALIGN_MASK;
    return out;
  }
}
