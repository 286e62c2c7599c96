import { describe, expect, it } from 'vitest';
import { PayloadSlab } from './payload-slab.js';

describe('PayloadSlab', () => {
  it('carves small payloads from one slab, 8-byte aligned and never overlapping', () => {
    const slabs = new PayloadSlab(4096);
    const a = slabs.alloc(100);
    const b = slabs.alloc(30);
    const c = slabs.alloc(1);
    expect(b.buffer).toBe(a.buffer);
    expect(c.buffer).toBe(a.buffer);
    expect(b.byteOffset - a.byteOffset).toBe(104);
    expect(c.byteOffset - b.byteOffset).toBe(32);
    a.fill(1);
    b.fill(2);
    c.fill(3);
    expect(a.every((x) => x === 1) && b.every((x) => x === 2) && c.every((x) => x === 3)).toBe(true);
  });

  it('starts a new slab when the payload does not fit, and never writes the old one again', () => {
    const slabs = new PayloadSlab(4096);
    const kept = slabs.alloc(1000);
    kept.fill(7);
    const views = Array.from({ length: 20 }, () => slabs.alloc(1000));
    for (const v of views) v.fill(9);
    expect(kept.every((x) => x === 7)).toBe(true);
    expect(new Set(views.map((v) => v.buffer)).size).toBeGreaterThan(4);
  });

  it('gives a payload over a quarter of a slab a buffer of its own, and keeps using the slab', () => {
    const slabs = new PayloadSlab(4096);
    const small = slabs.alloc(10);
    const big = slabs.alloc(1025);
    expect(big.length).toBe(1025);
    expect(big.buffer).not.toBe(small.buffer);
    expect(slabs.alloc(10).buffer).toBe(small.buffer);
  });

  it('with slab size 0 gives every payload a buffer of its own', () => {
    const none = new PayloadSlab(0);
    expect(none.alloc(5000).buffer).not.toBe(none.alloc(5000).buffer);
    expect(() => new PayloadSlab(-1)).toThrow(RangeError);
  });
});
