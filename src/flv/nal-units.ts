/**
 * H.264 NAL unit framing: ISO/IEC 14496-15 §5.3.4.2 (AVCC, length-prefixed, as in FLV and
 * MP4) and ITU-T H.264 Annex B (start codes), plus the mixed form the glasses send: one
 * 4-byte length prefix whose payload holds several NAL units separated by start codes.
 * All NAL units returned are views into the input.
 */
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** nal_unit_type values (H.264 Table 7-1) that the relay cares about. */
export const NalType = {
  SLICE: 1,
  SLICE_DPA: 2,
  IDR: 5,
  SEI: 6,
  SPS: 7,
  PPS: 8,
  AUD: 9,
  END_OF_SEQUENCE: 10,
  END_OF_STREAM: 11,
  FILLER: 12,
  SPS_EXT: 13,
} as const;

export type NalFraming = 'avcc' | 'annexb' | 'mixed';

export function nalType(nal: Buffer): number {
  return (nal[0] ?? 0) & 0x1f;
}

/** §B.1: the three-byte start code prefix. */
const START_CODE_PREFIX = Buffer.from([0, 0, 1]);

/** Index of the next 00 00 01 at or after `from`, or -1 (native search: this runs over every byte of video). */
function findStartCode(data: Buffer, from: number): number {
  return data.indexOf(START_CODE_PREFIX, from);
}

/** AVCC: each NAL unit behind a big-endian length of `lengthSize` bytes. Throws NAL_FRAMING when lengths do not add up. */
export function splitAvcc(data: Buffer, lengthSize: 1 | 2 | 4 = 4): Buffer[] {
  const nals: Buffer[] = [];
  let pos = 0;
  while (pos < data.length) {
    if (pos + lengthSize > data.length) {
      throw new MediaFormatError(
        MediaFormatErrorCode.NAL_FRAMING,
        `AVCC length prefix cut at byte ${pos} of ${data.length}`,
      );
    }
    const length = data.readUIntBE(pos, lengthSize);
    pos += lengthSize;
    if (length === 0 || pos + length > data.length) {
      throw new MediaFormatError(
        MediaFormatErrorCode.NAL_FRAMING,
        `AVCC NAL unit of ${length} bytes at byte ${pos} overruns ${data.length}`,
      );
    }
    nals.push(data.subarray(pos, pos + length));
    pos += length;
  }
  return nals;
}

/** Annex B: NAL units after 00 00 01 / 00 00 00 01 start codes; zero bytes before a start code belong to no NAL. */
export function splitAnnexB(data: Buffer): Buffer[] {
  const nals: Buffer[] = [];
  let start = findStartCode(data, 0);
  while (start >= 0) {
    const begin = start + 3;
    const next = findStartCode(data, begin);
    let end = next < 0 ? data.length : next;
    while (end > begin && data[end - 1] === 0) end--;
    if (end > begin) nals.push(data.subarray(begin, end));
    start = next;
  }
  return nals;
}

/** Whether the buffer starts with a start code (00 00 01 or 00 00 00 01). */
function startsWithStartCode(data: Buffer): boolean {
  return (
    (data[0] === 0 && data[1] === 0 && data[2] === 1) ||
    (data[0] === 0 && data[1] === 0 && data[2] === 0 && data[3] === 1)
  );
}

/**
 * Split a video payload whatever its framing. A valid NAL unit never contains 00 00 01
 * (emulation prevention), so an AVCC unit that does is the glasses' mixed form.
 */
export function splitNalUnits(data: Buffer, lengthSize: 1 | 2 | 4 = 4): { framing: NalFraming; nals: Buffer[] } {
  let avcc: Buffer[] | null = null;
  try {
    avcc = splitAvcc(data, lengthSize);
  } catch {
    avcc = null;
  }
  if (avcc !== null) {
    if (!avcc.some((n) => findStartCode(n, 0) >= 0)) return { framing: 'avcc', nals: avcc };
    const nals = avcc.flatMap((n) =>
      findStartCode(n, 0) >= 0 ? splitAnnexB(Buffer.concat([START_CODE_PREFIX, n])) : [n],
    );
    return { framing: 'mixed', nals };
  }
  if (startsWithStartCode(data)) return { framing: 'annexb', nals: splitAnnexB(data) };
  throw new MediaFormatError(MediaFormatErrorCode.NAL_FRAMING, 'payload is neither AVCC nor Annex B');
}

/** AVCC from NAL units, in one allocation. */
export function joinAvcc(nals: readonly Buffer[], lengthSize: 1 | 2 | 4 = 4): Buffer {
  let size = 0;
  for (const n of nals) size += lengthSize + n.length;
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const n of nals) {
    out.writeUIntBE(n.length, pos, lengthSize);
    pos += lengthSize;
    n.copy(out, pos);
    pos += n.length;
  }
  return out;
}
