/**
 * Silent AAC frames: ISO/IEC 14496-3 §4.4.2 raw_data_block of single_channel_element,
 * channel_pair_element and lfe_channel_element, in the order §1.6.3.5 Table 1.19 gives for
 * the channelConfiguration. Every individual_channel_stream has an ics_info of
 * ONLY_LONG_SEQUENCE with max_sfb 0, so section_data, scale_factor_data and spectral_data
 * are empty (no scale factor band to code), and pulse, TNS and gain control are off. The
 * spectrum is all zero, so a decoder outputs zeros: each frame is frameLengthSamples
 * samples per channel of silence on the audio sample clock. After real audio, the first
 * silent frame still carries the previous frame's overlap (its second half, faded by the
 * window); from the second on, the output is exactly zero.
 *
 * The block is what an FLV audio tag carries (AACPacketType 1), without an ADTS header.
 * Explicit SBR/PS in the config is refused (see refusal); implicit SBR (an LC config whose
 * frames carry SBR data) cannot be seen in the config, so the same caveat holds for it.
 */
import type { AacConfig } from './aac-config.js';
import { BitWriter } from './bit-writer.js';

/** §4.5.2.1 id_syn_ele values. */
const ID_SCE = 0;
const ID_CPE = 1;
const ID_LFE = 3;
const ID_END = 7;
const ID_BITS = 3;
const ELEMENT_INSTANCE_TAG_BITS = 4;
const GLOBAL_GAIN_BITS = 8;
/** §4.6.2.3.3 SF_OFFSET: the scale factor of gain 1. With no bands it scales nothing; any 0..255 is legal. */
const SILENT_GLOBAL_GAIN = 100;
/** ics_info: window_sequence (2 bits) ONLY_LONG_SEQUENCE = 0, window_shape (1 bit) sine = 0. */
const ONLY_LONG_SEQUENCE = 0;
const WINDOW_SHAPE_SINE = 0;
const MAX_SFB_LONG_BITS = 6;
/** channel_pair_element: ms_mask_present 0, no mid/side. */
const MS_MASK_NONE = 0;

/** Object types whose access unit is this raw_data_block (not the error resilient syntax). */
const AOT_AAC_MAIN = 1;
const AOT_AAC_LC = 2;
const AOT_AAC_SSR = 3;
const AOT_AAC_LTP = 4;
const SUPPORTED_OBJECT_TYPES: ReadonlySet<number> = new Set([AOT_AAC_MAIN, AOT_AAC_LC, AOT_AAC_LTP]);

type Element = typeof ID_SCE | typeof ID_CPE | typeof ID_LFE;

/** §1.6.3.5 Table 1.19: the syntactic elements of channelConfiguration 1..7, in bitstream order. */
const ELEMENTS_BY_CHANNEL_CONFIG: ReadonlyArray<readonly Element[]> = [
  [],
  [ID_SCE],
  [ID_CPE],
  [ID_SCE, ID_CPE],
  [ID_SCE, ID_CPE, ID_SCE],
  [ID_SCE, ID_CPE, ID_CPE],
  [ID_SCE, ID_CPE, ID_CPE, ID_LFE],
  [ID_SCE, ID_CPE, ID_CPE, ID_CPE, ID_LFE],
];

export interface SilentAacOptions {
  /**
   * channel_pair_element common_window: one shared ics_info (true, the default: 6 bytes for
   * stereo) or one per channel (false: 7 bytes). Both decode to the same silence.
   */
  commonWindow?: boolean;
}

export type SilentAacFrame =
  | {
      ok: true;
      /** One raw_data_block, byte aligned. A fresh buffer: the caller may keep or change it. */
      data: Buffer;
      /** Samples per channel the frame lasts at config.sampleRate (1024, or 960 by frameLengthFlag). */
      samplesPerFrame: 1024 | 960;
      /** Decoded channels (Table 1.19: configuration 7 is 8 channels). */
      channels: number;
    }
  | { ok: false; reason: string };

/** One silent frame for the stream's AudioSpecificConfig, or why none can be made. */
export function silentAacFrame(config: AacConfig, opts: SilentAacOptions = {}): SilentAacFrame {
  const reason = refusal(config);
  if (reason !== null) return { ok: false, reason };
  const elements = ELEMENTS_BY_CHANNEL_CONFIG[config.channelConfig] as readonly Element[];
  const commonWindow = opts.commonWindow ?? true;
  const w = new BitWriter(8 * elements.length);
  // element_instance_tag numbers each element type from 0 (SCE 0, CPE 0, SCE 1, ...), as
  // decoders map the implicit configurations.
  const nextTag = new Map<Element, number>();
  let channels = 0;
  for (const id of elements) {
    const tag = nextTag.get(id) ?? 0;
    nextTag.set(id, tag + 1);
    w.u(ID_BITS, id);
    w.u(ELEMENT_INSTANCE_TAG_BITS, tag);
    if (id === ID_CPE) {
      writeSilentChannelPair(w, commonWindow);
      channels += 2;
    } else {
      // single_channel_element and lfe_channel_element: one individual_channel_stream(0, 0).
      writeSilentChannelStream(w, false);
      channels += 1;
    }
  }
  w.u(ID_BITS, ID_END);
  // byte_alignment(): zero bits to the byte boundary.
  w.alignWith(false);
  return { ok: true, data: Buffer.from(w.toBuffer()), samplesPerFrame: config.frameLengthSamples, channels };
}

/** Why no silent frame is made for this config; null when one is. */
function refusal(config: AacConfig): string | null {
  if (config.extensionObjectType !== null) {
    // Silent SBR data (header, grid, envelopes) is not written here, and a core-only frame
    // fails an SBR decoder that has had SBR data.
    const tool = config.extensionObjectType === 29 ? 'PS' : 'SBR';
    return `object type ${config.extensionObjectType} (${tool}) is signalled: a frame without SBR data after frames with it is a decode error (FFmpeg: "No quantized data read for sbr_dequant")`;
  }
  if (!SUPPORTED_OBJECT_TYPES.has(config.objectType)) {
    const why =
      config.objectType === AOT_AAC_SSR
        ? 'SSR needs its gain control filterbank, which common decoders lack'
        : 'only AAC Main, LC and LTP (object types 1, 2, 4) use this raw_data_block syntax';
    return `object type ${config.objectType}: ${why}`;
  }
  if (config.channelConfig === 0) {
    return 'channelConfiguration 0: the channels are in a program_config_element, which is not parsed';
  }
  if (config.channelConfig >= ELEMENTS_BY_CHANNEL_CONFIG.length) {
    return `channelConfiguration ${config.channelConfig}: only 1..7 (Table 1.19) are supported`;
  }
  if (!Number.isInteger(config.sampleRate) || config.sampleRate <= 0) {
    return `sample rate ${config.sampleRate} Hz`;
  }
  return null;
}

/**
 * channel_pair_element after its tag: common_window, then (if common) the shared ics_info
 * and ms_mask_present, then both individual_channel_streams.
 */
function writeSilentChannelPair(w: BitWriter, commonWindow: boolean): void {
  w.flag(commonWindow);
  if (commonWindow) {
    writeSilentIcsInfo(w);
    w.u(2, MS_MASK_NONE);
  }
  writeSilentChannelStream(w, commonWindow);
  writeSilentChannelStream(w, commonWindow);
}

/**
 * individual_channel_stream(common_window, scale_flag 0): global_gain, ics_info unless
 * shared, then section_data and scale_factor_data (empty: max_sfb 0), the pulse, TNS and
 * gain control present flags (0), and spectral_data (empty).
 */
function writeSilentChannelStream(w: BitWriter, commonWindow: boolean): void {
  w.u(GLOBAL_GAIN_BITS, SILENT_GLOBAL_GAIN);
  if (!commonWindow) writeSilentIcsInfo(w);
  w.flag(false); // pulse_data_present
  w.flag(false); // tns_data_present
  w.flag(false); // gain_control_data_present
}

/**
 * ics_info: ics_reserved_bit 0, window_sequence ONLY_LONG_SEQUENCE, window_shape sine,
 * max_sfb 0 (6 bits for a long window), predictor_data_present 0 (no Main prediction, no
 * LTP). max_sfb 0 is legal at every sampling rate. After an EIGHT_SHORT or LONG_START frame
 * the spec's next sequence would be EIGHT_SHORT or LONG_STOP; decoders overlap any pair
 * (FFmpeg as short to short), and the window only shapes the previous frame's fade-out.
 */
function writeSilentIcsInfo(w: BitWriter): void {
  w.flag(false); // ics_reserved_bit
  w.u(2, ONLY_LONG_SEQUENCE);
  w.u(1, WINDOW_SHAPE_SINE);
  w.u(MAX_SFB_LONG_BITS, 0);
  w.flag(false); // predictor_data_present
}
