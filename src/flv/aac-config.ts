/**
 * AudioSpecificConfig: ISO/IEC 14496-3 §1.6.2.1 (the body of an FLV/RTMP AAC sequence
 * header). Parse, and build the 2-byte form for AAC-LC and friends.
 */
import { BitReader } from './bit-reader.js';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';

/** §1.6.3.4 Table 1.18: samplingFrequencyIndex -> Hz (index 15 means an explicit 24-bit rate). */
export const SAMPLE_RATES = [
  96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
] as const;
/** §1.6.2.1: objectType 31 escapes to 32 + 6 more bits. */
const OBJECT_TYPE_ESCAPE = 31;
/** §1.6.2.1: samplingFrequencyIndex 15 is followed by the rate itself. */
const EXPLICIT_RATE_INDEX = 15;
/** Object types of SBR (HE-AAC) and PS (HE-AACv2), signalled explicitly. */
const OBJECT_TYPE_SBR = 5;
const OBJECT_TYPE_PS = 29;

export interface AacConfig {
  objectType: number;
  sampleRateIndex: number;
  sampleRate: number;
  channelConfig: number;
  /** Samples per frame: 1024, or 960 when frameLengthFlag is set. */
  frameLengthSamples: 1024 | 960;
  /** For explicit HE-AAC signalling: the core object type and output rate. */
  extensionObjectType: number | null;
  extensionSampleRate: number | null;
}

function configError(message: string): MediaFormatError {
  return new MediaFormatError(MediaFormatErrorCode.AAC_CONFIG, message);
}

function readObjectType(r: BitReader): number {
  const t = r.u(5);
  return t === OBJECT_TYPE_ESCAPE ? 32 + r.u(6) : t;
}

function readRate(r: BitReader): { index: number; rate: number } {
  const index = r.u(4);
  if (index === EXPLICIT_RATE_INDEX) return { index, rate: r.u(24) };
  const rate = SAMPLE_RATES[index];
  if (rate === undefined) throw configError(`samplingFrequencyIndex ${index} is reserved`);
  return { index, rate };
}

export function parseAudioSpecificConfig(buf: Buffer): AacConfig {
  if (buf.length < 2) throw configError(`AudioSpecificConfig of ${buf.length} bytes`);
  try {
    return readAudioSpecificConfig(buf);
  } catch (err) {
    // The bit reader is shared with H.264; a config cut short is this layer's error.
    if (err instanceof MediaFormatError && err.code === MediaFormatErrorCode.H264_BITSTREAM) {
      throw configError(`AudioSpecificConfig ends early: ${err.message}`);
    }
    throw err;
  }
}

function readAudioSpecificConfig(buf: Buffer): AacConfig {
  const r = new BitReader(buf);
  let objectType = readObjectType(r);
  if (objectType === 0) throw configError('audioObjectType 0');
  const { index: sampleRateIndex, rate: sampleRate } = readRate(r);
  const channelConfig = r.u(4);
  let extensionObjectType: number | null = null;
  let extensionSampleRate: number | null = null;
  if (objectType === OBJECT_TYPE_SBR || objectType === OBJECT_TYPE_PS) {
    extensionObjectType = objectType;
    extensionSampleRate = readRate(r).rate;
    objectType = readObjectType(r);
  }
  let frameLengthSamples: 1024 | 960 = 1024;
  // GASpecificConfig (§4.4.1) starts with frameLengthFlag for the AAC object types.
  if ([1, 2, 3, 4, 6, 7, 17, 19, 20, 21, 22, 23].includes(objectType) && r.bitsLeft >= 1) {
    frameLengthSamples = r.flag() ? 960 : 1024;
  }
  return {
    objectType,
    sampleRateIndex,
    sampleRate,
    channelConfig,
    frameLengthSamples,
    extensionObjectType,
    extensionSampleRate,
  };
}

/** The 2-byte AudioSpecificConfig (object type < 31, a table sample rate). */
export function buildAudioSpecificConfig(opts: {
  objectType: number;
  sampleRate?: number;
  sampleRateIndex?: number;
  channelConfig: number;
}): Buffer {
  const index = opts.sampleRateIndex ?? SAMPLE_RATES.indexOf((opts.sampleRate ?? -1) as (typeof SAMPLE_RATES)[number]);
  if (index < 0 || index > 12) throw configError(`sample rate ${opts.sampleRate} has no index`);
  if (opts.objectType < 1 || opts.objectType >= OBJECT_TYPE_ESCAPE) throw configError(`objectType ${opts.objectType}`);
  if (opts.channelConfig < 0 || opts.channelConfig > 15) throw configError(`channelConfig ${opts.channelConfig}`);
  const b = Buffer.alloc(2);
  b[0] = (opts.objectType << 3) | (index >> 1);
  b[1] = ((index & 1) << 7) | (opts.channelConfig << 3);
  return b;
}

/** Names as ffprobe prints AAC profiles. */
export function aacProfileName(objectType: number, extensionObjectType: number | null = null): string {
  if (extensionObjectType === OBJECT_TYPE_PS) return 'HE-AACv2';
  if (extensionObjectType === OBJECT_TYPE_SBR) return 'HE-AAC';
  return (
    { 1: 'Main', 2: 'LC', 3: 'SSR', 4: 'LTP', 5: 'HE-AAC', 29: 'HE-AACv2', 23: 'LD', 39: 'ELD' }[objectType] ??
    `object type ${objectType}`
  );
}
