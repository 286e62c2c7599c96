/**
 * Typed errors of the FLV and codec layer. Malformed media never throws anything else:
 * callers count these as anomalies (a tag that cannot be parsed) instead of crashing.
 */
import { CodedError } from '../media/coded-error.js';

/** Stable codes; never rename one. */
export const MediaFormatErrorCode = {
  /** Not an FLV file: bad signature, version or DataOffset. */
  FLV_HEADER: 'ERR_FLV_HEADER',
  /** The file ends inside a tag. */
  FLV_TRUNCATED: 'ERR_FLV_TRUNCATED',
  /** A tag larger than the reader's limit. */
  FLV_TAG_TOO_LARGE: 'ERR_FLV_TAG_TOO_LARGE',
  /** A tag body too short for its own header, or otherwise malformed. */
  FLV_TAG: 'ERR_FLV_TAG',
  /** An H.264 bitstream read ran past the end or hit an impossible exp-Golomb code. */
  H264_BITSTREAM: 'ERR_H264_BITSTREAM',
  /** A sequence parameter set with out-of-range fields. */
  H264_SPS: 'ERR_H264_SPS',
  /** A picture parameter set with out-of-range fields. */
  H264_PPS: 'ERR_H264_PPS',
  /** A slice header that cannot be read (unknown PPS/SPS, bad fields). */
  H264_SLICE: 'ERR_H264_SLICE',
  /** A malformed AVCDecoderConfigurationRecord. */
  AVC_CONFIG: 'ERR_AVC_CONFIG',
  /** NAL unit lengths or start codes that do not add up. */
  NAL_FRAMING: 'ERR_NAL_FRAMING',
  /** A malformed AudioSpecificConfig. */
  AAC_CONFIG: 'ERR_AAC_CONFIG',
  /** A malformed ADTS header. */
  ADTS: 'ERR_ADTS',
} as const;

export type MediaFormatErrorCode = (typeof MediaFormatErrorCode)[keyof typeof MediaFormatErrorCode];

export class MediaFormatError extends CodedError<MediaFormatErrorCode> {
  override readonly name = 'MediaFormatError';
}
