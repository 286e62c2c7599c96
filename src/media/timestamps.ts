/** Timestamp arithmetic on RTMP/FLV's 32-bit millisecond clock. */

/** Signed difference a - b of two 32-bit timestamps (wrap-aware), in ms. */
export function signedDelta32(a: number, b: number): number {
  const d = (a - b) >>> 0;
  return d >= 0x80000000 ? d - 0x100000000 : d;
}
