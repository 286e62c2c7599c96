/**
 * ADTS headers: ISO/IEC 14496-3 §1.A.2 (adts_fixed_header / adts_variable_header). The
 * glasses sometimes send AAC frames with these 7 (or 9) byte headers inside FLV audio tags;
 * FLV wants raw AAC plus an AudioSpecificConfig.
 */
import { buildAudioSpecificConfig } from './aac-config.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §1.A.2.2.1: the 12-bit syncword. */
const SYNC = 0xfff;
/** Header bytes without / with the CRC. */
const HEADER_BYTES = 7;
const HEADER_BYTES_CRC = 9;

export interface AdtsHeader {
  mpegVersion: 2 | 4;
  protectionAbsent: boolean;
  /** MPEG-4 audio object type (profile + 1). */
  objectType: number;
  sampleRateIndex: number;
  channelConfig: number;
  /** Header plus payload, in bytes. */
  frameLengthBytes: number;
  headerBytes: 7 | 9;
  rawDataBlocks: number;
}

/** Whether the data starts with an ADTS syncword (and layer 0). */
export function isAdts(data: Buffer): boolean {
  return (
    data.length >= HEADER_BYTES &&
    (((data[0] as number) << 4) | ((data[1] as number) >> 4)) === SYNC &&
    ((data[1] as number) & 0x06) === 0
  );
}

export function parseAdtsHeader(data: Buffer): AdtsHeader {
  if (!isAdts(data)) throw new MediaFormatError(MediaFormatErrorCode.ADTS, 'no ADTS syncword');
  const b1 = data[1] as number;
  const b2 = data[2] as number;
  const b3 = data[3] as number;
  const protectionAbsent = (b1 & 1) === 1;
  const frameLengthBytes = ((b3 & 3) << 11) | ((data[4] as number) << 3) | ((data[5] as number) >> 5);
  const headerBytes = protectionAbsent ? HEADER_BYTES : HEADER_BYTES_CRC;
  const sampleRateIndex = (b2 >> 2) & 0x0f;
  if (sampleRateIndex > 12)
    throw new MediaFormatError(MediaFormatErrorCode.ADTS, `sampling_frequency_index ${sampleRateIndex}`);
  if (frameLengthBytes < headerBytes)
    throw new MediaFormatError(MediaFormatErrorCode.ADTS, `frame_length ${frameLengthBytes}`);
  return {
    mpegVersion: (b1 & 0x08) !== 0 ? 2 : 4,
    protectionAbsent,
    objectType: (b2 >> 6) + 1,
    sampleRateIndex,
    channelConfig: ((b2 & 1) << 2) | (b3 >> 6),
    frameLengthBytes,
    headerBytes,
    rawDataBlocks: ((data[6] as number) & 3) + 1,
  };
}

/** Strip ADTS headers: the raw AAC payloads (views), one per ADTS frame in the data. */
export function stripAdts(data: Buffer): { header: AdtsHeader; payload: Buffer; payloads: Buffer[]; frames: number } {
  const payloads: Buffer[] = [];
  let first: AdtsHeader | null = null;
  let pos = 0;
  while (pos < data.length) {
    const header = parseAdtsHeader(data.subarray(pos));
    if (pos + header.frameLengthBytes > data.length) {
      throw new MediaFormatError(
        MediaFormatErrorCode.ADTS,
        `ADTS frame of ${header.frameLengthBytes} bytes overruns ${data.length - pos}`,
      );
    }
    first ??= header;
    payloads.push(data.subarray(pos + header.headerBytes, pos + header.frameLengthBytes));
    pos += header.frameLengthBytes;
  }
  if (first === null) throw new MediaFormatError(MediaFormatErrorCode.ADTS, 'empty ADTS data');
  return { header: first, payload: payloads[0] as Buffer, payloads, frames: payloads.length };
}

/** The AudioSpecificConfig an ADTS header implies. */
export function adtsToAudioSpecificConfig(header: AdtsHeader): Buffer {
  return buildAudioSpecificConfig({
    objectType: header.objectType,
    sampleRateIndex: header.sampleRateIndex,
    channelConfig: header.channelConfig,
  });
}
