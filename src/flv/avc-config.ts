/**
 * AVCDecoderConfigurationRecord: ISO/IEC 14496-15 §5.3.3.1 (the body of an FLV/RTMP AVC
 * sequence header and of an MP4 avcC box). Parse, and build from SPS/PPS NAL units.
 */
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import { parseSps } from './h264-sps.js';

/** §5.3.3.1: profiles whose record carries the chroma/bit-depth extension. */
const EXTENDED_PROFILES = new Set([100, 110, 122, 144]);

export interface AvcConfig {
  configurationVersion: number;
  profileIdc: number;
  profileCompatibility: number;
  levelIdc: number;
  /** Bytes of each NAL unit length prefix in the frames (1, 2 or 4). */
  nalLengthSize: 1 | 2 | 4;
  sps: Buffer[];
  pps: Buffer[];
  ext: null | { chromaFormat: number; bitDepthLuma: number; bitDepthChroma: number; spsExt: Buffer[] };
}

function configError(message: string): MediaFormatError {
  return new MediaFormatError(MediaFormatErrorCode.AVC_CONFIG, message);
}

export function parseAvcConfig(buf: Buffer): AvcConfig {
  if (buf.length < 7) throw configError(`record of ${buf.length} bytes`);
  if (buf[0] !== 1) throw configError(`configurationVersion ${buf[0]}`);
  const lengthSize = ((buf[4] as number) & 3) + 1;
  if (lengthSize === 3) throw configError('lengthSizeMinusOne 2 (3-byte lengths) is not allowed');
  let pos = 5;
  const readList = (count: number): Buffer[] => {
    const list: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      if (pos + 2 > buf.length) throw configError('parameter set length cut');
      const length = buf.readUInt16BE(pos);
      pos += 2;
      if (length === 0 || pos + length > buf.length)
        throw configError(`parameter set of ${length} bytes overruns the record`);
      list.push(buf.subarray(pos, pos + length));
      pos += length;
    }
    return list;
  };
  const sps = readList((buf[pos++] as number) & 0x1f);
  if (pos >= buf.length) throw configError('record ends before numOfPictureParameterSets');
  const pps = readList(buf[pos++] as number);
  let ext: AvcConfig['ext'] = null;
  if (EXTENDED_PROFILES.has(buf[1] as number) && pos + 4 <= buf.length) {
    const chromaFormat = (buf[pos] as number) & 3;
    const bitDepthLuma = ((buf[pos + 1] as number) & 7) + 8;
    const bitDepthChroma = ((buf[pos + 2] as number) & 7) + 8;
    const count = buf[pos + 3] as number;
    pos += 4;
    ext = { chromaFormat, bitDepthLuma, bitDepthChroma, spsExt: readList(count) };
  }
  return {
    configurationVersion: 1,
    profileIdc: buf[1] as number,
    profileCompatibility: buf[2] as number,
    levelIdc: buf[3] as number,
    nalLengthSize: lengthSize as 1 | 2 | 4,
    sps,
    pps,
    ext,
  };
}

/** Build a record from SPS/PPS NAL units (profile and level from the first SPS), in one allocation. */
export function buildAvcConfig(opts: { sps: Buffer[]; pps: Buffer[]; nalLengthSize?: 1 | 2 | 4 }): Buffer {
  const first = opts.sps[0];
  if (first === undefined || first.length < 4) throw configError('an SPS is required');
  if (opts.sps.length > 31 || opts.pps.length > 255) throw configError('too many parameter sets');
  const profileIdc = first[1] as number;
  const withExt = EXTENDED_PROFILES.has(profileIdc);
  let size = 6 + 1 + (withExt ? 4 : 0);
  for (const n of [...opts.sps, ...opts.pps]) size += 2 + n.length;
  const out = Buffer.allocUnsafe(size);
  out[0] = 1;
  out[1] = profileIdc;
  out[2] = first[2] as number;
  out[3] = first[3] as number;
  out[4] = 0xfc | ((opts.nalLengthSize ?? 4) - 1);
  out[5] = 0xe0 | opts.sps.length;
  let pos = 6;
  const write = (n: Buffer): void => {
    out.writeUInt16BE(n.length, pos);
    n.copy(out, pos + 2);
    pos += 2 + n.length;
  };
  opts.sps.forEach(write);
  out[pos++] = opts.pps.length;
  opts.pps.forEach(write);
  if (withExt) {
    const sps = parseSps(first);
    out[pos++] = 0xfc | sps.chromaFormatIdc;
    out[pos++] = 0xf8 | (sps.bitDepthLuma - 8);
    out[pos++] = 0xf8 | (sps.bitDepthChroma - 8);
    out[pos++] = 0;
  }
  return out;
}
