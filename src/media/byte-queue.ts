/**
 * A FIFO of received socket buffers that parsers read from without copying.
 *
 * `take(n)` hands out a subarray when the n bytes lie inside one received buffer and
 * copies only when they straddle two; `copyTo` moves payload bytes straight into the
 * message buffer that will own them. Peeks (`byteAt`, `uint24At`, `uint32At`) let a
 * parser decide a header's full length before consuming anything, so a header is read
 * whole or not at all.
 */
export class ByteQueue {
  private buffers: Buffer[] = [];
  /** Index of the first buffer that still holds unread bytes. */
  private head = 0;
  /** Read offset inside `buffers[head]`. */
  private headOffset = 0;
  private size = 0;

  /** Bytes available to read. */
  get length(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.buffers.push(chunk);
    this.size += chunk.length;
  }

  /** The byte at `index` from the read position; the caller checks `length` first. */
  byteAt(index: number): number {
    let i = this.head;
    let offset = this.headOffset + index;
    for (;;) {
      const buf = this.buffers[i] as Buffer;
      if (offset < buf.length) return buf[offset] as number;
      offset -= buf.length;
      i++;
    }
  }

  /** Big-endian 24-bit unsigned integer at `index`. */
  uint24At(index: number): number {
    return (this.byteAt(index) << 16) | (this.byteAt(index + 1) << 8) | this.byteAt(index + 2);
  }

  /** Big-endian 32-bit unsigned integer at `index`. */
  uint32At(index: number): number {
    return (
      this.byteAt(index) * 0x1000000 +
      ((this.byteAt(index + 1) << 16) | (this.byteAt(index + 2) << 8) | this.byteAt(index + 3))
    );
  }

  /** Little-endian 32-bit unsigned integer at `index` (RTMP's message stream id). */
  uint32LEAt(index: number): number {
    return (
      this.byteAt(index) +
      (this.byteAt(index + 1) << 8) +
      (this.byteAt(index + 2) << 16) +
      this.byteAt(index + 3) * 0x1000000
    );
  }

  /**
   * Consume `n` bytes. Returns a view into the received buffer when possible,
   * otherwise a fresh copy. The caller must have checked `length >= n`.
   * Views share memory with the socket buffer: copy what you keep.
   */
  take(n: number): Buffer {
    const first = this.buffers[this.head] as Buffer;
    if (first.length - this.headOffset >= n) {
      const view = first.subarray(this.headOffset, this.headOffset + n);
      this.skip(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    this.copyTo(out, 0, n);
    return out;
  }

  /** Consume `n` bytes into `target` at `targetStart`. The caller must have checked `length >= n`. */
  copyTo(target: Buffer, targetStart: number, n: number): void {
    let written = 0;
    while (written < n) {
      const buf = this.buffers[this.head] as Buffer;
      const available = buf.length - this.headOffset;
      const count = Math.min(available, n - written);
      buf.copy(target, targetStart + written, this.headOffset, this.headOffset + count);
      written += count;
      this.advance(count, available);
    }
  }

  /** Discard `n` bytes. The caller must have checked `length >= n`. */
  skip(n: number): void {
    let left = n;
    while (left > 0) {
      const buf = this.buffers[this.head] as Buffer;
      const available = buf.length - this.headOffset;
      const count = Math.min(available, left);
      left -= count;
      this.advance(count, available);
    }
  }

  /** Drop everything (the session is over). */
  clear(): void {
    this.buffers = [];
    this.head = 0;
    this.headOffset = 0;
    this.size = 0;
  }

  private advance(count: number, available: number): void {
    this.size -= count;
    if (count === available) {
      this.buffers[this.head] = EMPTY; // release the socket buffer as soon as it is read
      this.head++;
      this.headOffset = 0;
      if (this.head === this.buffers.length) {
        this.buffers.length = 0;
        this.head = 0;
      } else if (this.head >= 64 && this.head * 2 >= this.buffers.length) {
        this.buffers = this.buffers.slice(this.head);
        this.head = 0;
      }
    } else {
      this.headOffset += count;
    }
  }
}

const EMPTY = Buffer.alloc(0);
