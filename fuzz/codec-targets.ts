/**
 * Fuzz targets of the codec parsers: AVC decoder configuration records, SPS (and the SPS
 * rewrite the fixer applies), PPS, slice headers (and the slice rewrite), NAL framing, ADTS,
 * AudioSpecificConfig, and the legacy and enhanced-RTMP video and audio tag headers.
 */
import { parseAudioSpecificConfig } from '../src/flv/aac-config.js';
import { adtsToAudioSpecificConfig, stripAdts } from '../src/flv/adts.js';
import { parseAvcConfig } from '../src/flv/avc-config.js';
import { parseAudioTagBody, parseVideoTagBody } from '../src/flv/flv-tag.js';
import { PocCounter } from '../src/flv/h264-poc.js';
import { parsePps, type Pps } from '../src/flv/h264-pps.js';
import { rewriteSlice } from '../src/flv/h264-slice-rewrite.js';
import { ParameterSets, parseSliceHeader, type SliceHeader } from '../src/flv/h264-slice.js';
import { raiseMaxNumRefFrames } from '../src/flv/h264-sps-rewrite.js';
import { parseSps, type Sps } from '../src/flv/h264-sps.js';
import { splitNalUnits } from '../src/flv/nal-units.js';
import { CodedError } from '../src/media/coded-error.js';
import {
  AUDIO_FOURCCS,
  VIDEO_FOURCCS,
  generateAdts,
  generateAsc,
  generateAudioHead,
  generateVideoHead,
} from './generators.js';
import { generateAvcConfig, generateNalPayload, generatePps, generateSlice, generateSps } from './h264-generators.js';
import { Rng } from './prng.js';
import { InvariantError, type Corpus, type FuzzTarget } from './target-types.js';

const bytes = (...values: number[]): Buffer => Buffer.from(values);
/** Emulation prevention, start codes and NAL headers: the tokens of an H.264 bitstream. */
const H264_DICTIONARY = [
  bytes(0, 0, 3),
  bytes(0, 0, 1),
  bytes(0, 0, 0, 1),
  bytes(0x67),
  bytes(0x68),
  bytes(0x65),
  bytes(0x41),
  bytes(0x00, 0x00, 0x00, 0x00),
  bytes(0xff, 0xff),
];
/** The number of reference frames the fixer raises an SPS to, and a few more. */
const MAX_RAISED_REF_FRAMES = 16;

export const avcConfig: FuzzTarget = {
  name: 'avc-config',
  what: 'parseAvcConfig (AVCDecoderConfigurationRecord)',
  push: false,
  maxBytes: 4096,
  generatedPercent: 40,
  dictionary: [bytes(1), bytes(0xff), bytes(0xe1), bytes(0xfc), bytes(0xfe), bytes(0, 0), ...H264_DICTIONARY],
  seeds: (corpus) => corpus.avcConfigs,
  generate: generateAvcConfig,
  prepare: () => (input) => (parseAvcConfig(input.bytes).ext === null ? 'plain' : 'with-ext'),
};

/** raiseMaxNumRefFrames's promise: the same picture, at least `refs` reference frames. */
function checkRaised(input: Buffer, before: Sps, refs: number): void {
  const raised = raiseMaxNumRefFrames(input, refs);
  let after: Sps;
  try {
    after = parseSps(raised);
  } catch (err) {
    // An SPS without its stop bit loses what followed the last set bit: garbage in, garbage out.
    if (err instanceof CodedError) return;
    throw err;
  }
  if (after.maxNumRefFrames < refs || after.width !== before.width || after.height !== before.height) {
    throw new InvariantError(
      `raised SPS: ${after.maxNumRefFrames} refs at ${after.width}x${after.height}, wanted >= ${refs} at ${before.width}x${before.height}`,
    );
  }
}

export const sps: FuzzTarget = {
  name: 'sps',
  what: 'parseSps (with VUI and HRD) + raiseMaxNumRefFrames',
  push: false,
  maxBytes: 1024,
  generatedPercent: 40,
  dictionary: H264_DICTIONARY,
  seeds: (corpus) => corpus.sps,
  generate: generateSps,
  prepare: () => (input) => {
    const parsed = parseSps(input.bytes);
    const choice = new Rng(input.choice);
    if (!choice.chance(0.5)) return parsed.vui === null ? 'no-vui' : 'vui';
    checkRaised(input.bytes, parsed, choice.range(1, MAX_RAISED_REF_FRAMES));
    return 'raised';
  },
};

export const pps: FuzzTarget = {
  name: 'pps',
  what: 'parsePps',
  push: false,
  maxBytes: 256,
  generatedPercent: 40,
  dictionary: H264_DICTIONARY,
  seeds: (corpus) => corpus.pps,
  generate: generatePps,
  prepare: () => (input) => {
    const parsed = parsePps(input.bytes);
    return parsed.numSliceGroups > 1 ? 'slice-groups' : parsed.redundantPicCntPresent === null ? 'cut' : 'full';
  },
};

/** An SPS to read slices with; `sets` when its real PPS came with it. */
interface SliceContext {
  sps: Sps;
  sets: ParameterSets | null;
}

/** The fixtures' parameter sets, and generated SPS that reach what they lack (fields, POC type 1, colour planes). */
function sliceContexts(corpus: Corpus): SliceContext[] {
  const contexts: SliceContext[] = [];
  for (const seed of corpus.sps) {
    const one = new ParameterSets();
    try {
      contexts.push({ sps: one.addSps(seed.bytes), sets: one });
      for (const p of corpus.pps) one.addPps(p.bytes);
    } catch {
      // A fixture's broken parameter set (on purpose) has no slices to read.
    }
  }
  const rng = new Rng(0x51ce);
  for (let tries = 0; tries < 20000 && contexts.length < corpus.sps.length + 24; tries++) {
    try {
      contexts.push({ sps: parseSps(generateSps(rng)), sets: null });
    } catch {
      // Most generated SPS are refused; keep the ones that parse.
    }
  }
  return contexts;
}

/** A PPS for the rewrite: the fields it depends on, chosen. */
function rewritePps(choice: Rng): Pps {
  return {
    ppsId: 0,
    spsId: 0,
    entropyCodingMode: choice.chance(0.5),
    bottomFieldPicOrderInFramePresent: choice.chance(0.2),
    numSliceGroups: choice.chance(0.95) ? 1 : 2,
    weightedPred: false,
    weightedBipredIdc: 0,
    deblockingFilterControlPresent: choice.chance(0.7),
    constrainedIntraPred: false,
    redundantPicCntPresent: choice.chance(0.2),
  };
}

/** rewriteSlice as the fixer's IDR demotion calls it; the header must read back as written. */
function checkRewrite(nal: Buffer, header: SliceHeader, context: Sps, choice: Rng): void {
  const frameNum = choice.below(2 ** context.log2MaxFrameNum);
  const lsbBits = context.log2MaxPicOrderCntLsb;
  const picOrderCntLsb = context.picOrderCntType === 0 && lsbBits !== null ? choice.below(2 ** lsbBits) : null;
  const demoteIdr = header.nalType === 5 && choice.chance(0.7);
  const out = rewriteSlice(nal, context, rewritePps(choice), { frameNum, picOrderCntLsb, demoteIdr });
  let again: SliceHeader;
  try {
    again = parseSliceHeader(out, context);
  } catch (err) {
    if (err instanceof CodedError) return; // re-escaping moved a field past the parser's prefix
    throw err;
  }
  if (again.frameNum !== frameNum || (picOrderCntLsb !== null && again.picOrderCntLsb !== picOrderCntLsb)) {
    throw new InvariantError(`rewritten slice reads frame_num ${again.frameNum}, POC lsb ${again.picOrderCntLsb}`);
  }
  if (demoteIdr && again.nalType !== 1) throw new InvariantError(`demoted IDR is NAL type ${again.nalType}`);
}

export const sliceHeader: FuzzTarget = {
  name: 'slice-header',
  what: 'parseSliceHeader / ParameterSets.sliceHeader + rewriteSlice',
  push: false,
  maxBytes: 512,
  generatedPercent: 25,
  dictionary: H264_DICTIONARY,
  seeds: (corpus) => corpus.slices,
  generate: generateSlice,
  prepare: (corpus) => {
    const contexts = sliceContexts(corpus);
    return (input) => {
      const choice = new Rng(input.choice);
      const context = choice.pick(contexts);
      let spsUsed = context.sps;
      let header: SliceHeader;
      if (context.sets !== null && choice.chance(0.5)) {
        header = context.sets.sliceHeader(input.bytes);
        // Its PPS id is read twice (a short prefix first); when the reads disagree, keep the SPS it had.
        spsUsed = context.sets.spsForPps(header.ppsId) ?? context.sps;
      } else {
        header = parseSliceHeader(input.bytes, context.sps);
      }
      new PocCounter().next(header, spsUsed);
      if (!choice.chance(0.5)) return header.sliceKind;
      checkRewrite(input.bytes, header, spsUsed, choice);
      return 'rewritten';
    };
  },
};

export const nalFraming: FuzzTarget = {
  name: 'nal-framing',
  what: 'splitNalUnits (AVCC, Annex B, mixed)',
  push: false,
  maxBytes: 16384,
  generatedPercent: 30,
  dictionary: H264_DICTIONARY,
  seeds: (corpus) => [...corpus.nalPayloads, ...corpus.slices],
  generate: generateNalPayload,
  prepare: () => (input) => {
    const lengthSize = new Rng(input.choice).pick([4, 4, 4, 2, 1] as const);
    const split = splitNalUnits(input.bytes, lengthSize);
    if (split.nals.some((n) => n.length === 0)) throw new InvariantError('an empty NAL unit');
    return split.framing;
  },
};

export const adts: FuzzTarget = {
  name: 'adts',
  what: 'stripAdts + adtsToAudioSpecificConfig (read back)',
  push: false,
  maxBytes: 8192,
  generatedPercent: 30,
  dictionary: [bytes(0xff, 0xf1), bytes(0xff, 0xf9), bytes(0x1f, 0xfc), bytes(0xff), bytes(0x00)],
  seeds: (corpus) => corpus.adts,
  generate: generateAdts,
  prepare: () => (input) => {
    const stripped = stripAdts(input.bytes);
    const config = parseAudioSpecificConfig(adtsToAudioSpecificConfig(stripped.header));
    const h = stripped.header;
    if (config.objectType !== h.objectType || config.sampleRateIndex !== h.sampleRateIndex) {
      throw new InvariantError(`ADTS object type ${h.objectType} / rate ${h.sampleRateIndex} reads back otherwise`);
    }
    return stripped.frames === 1 ? 'one-frame' : 'frames';
  },
};

export const audioSpecificConfig: FuzzTarget = {
  name: 'audio-specific-config',
  what: 'parseAudioSpecificConfig',
  push: false,
  maxBytes: 64,
  generatedPercent: 40,
  dictionary: [bytes(0x12, 0x10), bytes(0x2b, 0x92, 0x08), bytes(0xf8), bytes(0xff), bytes(0x00)],
  seeds: (corpus) => corpus.ascs,
  generate: generateAsc,
  prepare: () => (input) => (parseAudioSpecificConfig(input.bytes).extensionObjectType === null ? 'plain' : 'sbr-ps'),
};

/** A tag body header's promise: header plus data is the body. */
function checkSplit(body: Buffer, parsed: { headerBytes: number; data: Buffer }): void {
  if (parsed.headerBytes + parsed.data.length !== body.length || parsed.headerBytes < 0) {
    throw new InvariantError(`${parsed.headerBytes} header bytes + ${parsed.data.length} of data in ${body.length}`);
  }
}

const fourCcs = (list: readonly string[]): Buffer[] => list.map((f) => Buffer.from(f, 'latin1'));

export const videoTagHeader: FuzzTarget = {
  name: 'video-tag-header',
  what: 'parseVideoTagBody (legacy, enhanced RTMP: ModEx, FourCC, multitrack)',
  push: false,
  maxBytes: 512,
  generatedPercent: 30,
  dictionary: [...fourCcs(VIDEO_FOURCCS), bytes(0x87), bytes(0x97), bytes(0x96), bytes(0x17, 0x00), bytes(0x27, 0x01)],
  seeds: (corpus) => corpus.videoHeads,
  generate: generateVideoHead,
  prepare: () => (input) => {
    const parsed = parseVideoTagBody(input.bytes);
    checkSplit(input.bytes, parsed);
    return `${parsed.enhanced ? 'enhanced' : 'legacy'} ${parsed.packetKind}`;
  },
};

export const audioTagHeader: FuzzTarget = {
  name: 'audio-tag-header',
  what: 'parseAudioTagBody (legacy, enhanced RTMP: ModEx, FourCC, multitrack)',
  push: false,
  maxBytes: 512,
  generatedPercent: 30,
  dictionary: [...fourCcs(AUDIO_FOURCCS), bytes(0xaf, 0x00), bytes(0xae, 0x01), bytes(0x97), bytes(0x95)],
  seeds: (corpus) => corpus.audioHeads,
  generate: generateAudioHead,
  prepare: () => (input) => {
    const parsed = parseAudioTagBody(input.bytes);
    checkSplit(input.bytes, parsed);
    return parsed.enhanced ? 'enhanced' : 'legacy';
  },
};
