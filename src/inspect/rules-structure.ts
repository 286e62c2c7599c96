/**
 * The structural rules, judged from what the tags hold rather than when they are stamped:
 * parse, media, codecs, headers-first, stable-headers, avcc-framing, raw-aac, aac-tag-byte.
 */
import { AAC_TAG_BYTE, ContractRule, MIN_TRACK_FRAMES } from '../media/output-contract.js';
import { cause, FindingKind, type RuleBook } from './findings.js';
import type { Collected, HeaderTag } from './report-types.js';

const hex = (b: number): string => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`;

export const isAvc = (codec: string | null): boolean => codec === 'avc' || codec === 'avc1';

/** parse: every tag parses and every PreviousTagSize is right (the reader reports both). */
function checkParse(book: RuleBook, c: Collected): void {
  const { parse } = c;
  const detail =
    parse.details.slice(0, 3).join('; ') + (parse.details.length > 3 ? `; ... (${parse.details.length} in all)` : '');
  book.breach(
    ContractRule.PARSE,
    parse.errors,
    parse.firstAtMs,
    detail,
    cause(FindingKind.FLV_PARSE, 'both', parse.errors, parse.firstAtMs, detail),
  );
}

/** media: at least MIN_TRACK_FRAMES frames in each track. */
function checkMedia(book: RuleBook, c: Collected): void {
  for (const [track, n] of [
    ['video', c.videoFrames.length],
    ['audio', c.audioFrames.length],
  ] as const) {
    if (n >= MIN_TRACK_FRAMES) continue;
    const detail = `${n} ${track} frames (at least ${MIN_TRACK_FRAMES} needed)`;
    book.breach(ContractRule.MEDIA, 1, null, detail, cause(FindingKind.TOO_FEW_FRAMES, track, 1, null, detail));
  }
}

/** codecs: AVC video, AAC audio. */
function checkCodecs(book: RuleBook, c: Collected): void {
  if (c.videoCodec !== null && !isAvc(c.videoCodec)) {
    book.breach(
      ContractRule.CODECS,
      1,
      c.videoFrames[0]?.dts ?? null,
      `video codec ${c.videoCodec}`,
      cause(FindingKind.UNSUPPORTED_VIDEO_CODEC, 'video', 1, null, `video codec ${c.videoCodec}`),
    );
  }
  if (c.audioCodec !== null && c.audioCodec !== 'aac') {
    book.breach(
      ContractRule.CODECS,
      1,
      c.audioFrames[0]?.dts ?? null,
      `audio codec ${c.audioCodec}`,
      cause(FindingKind.UNSUPPORTED_AUDIO_CODEC, 'audio', 1, null, `audio codec ${c.audioCodec}`),
    );
  }
}

/** headers-first: an AVC and an AAC sequence header before the first frame of their track. */
function checkHeadersFirst(book: RuleBook, c: Collected): void {
  if (isAvc(c.videoCodec) && c.videoFrames.length > 0 && !c.videoHeaders.some((h) => h.framesBefore === 0)) {
    const missing = c.videoHeaders.length === 0;
    const detail = missing
      ? c.inBandSps
        ? 'no AVC sequence header: SPS/PPS only in band'
        : 'no AVC sequence header and no SPS/PPS'
      : `AVC sequence header after ${c.videoHeaders[0]?.framesBefore} frames`;
    const kind = missing ? FindingKind.AVC_SEQUENCE_HEADER_MISSING : FindingKind.AVC_SEQUENCE_HEADER_LATE;
    book.breach(
      ContractRule.HEADERS_FIRST,
      1,
      c.videoFrames[0]?.dts ?? null,
      detail,
      cause(kind, 'video', 1, null, detail),
    );
  }
  if (c.audioCodec === 'aac' && c.audioFrames.length > 0 && !c.audioHeaders.some((h) => h.framesBefore === 0)) {
    const detail =
      c.audioHeaders.length === 0 ? 'no AAC sequence header' : 'AAC sequence header after the first frames';
    book.breach(
      ContractRule.HEADERS_FIRST,
      1,
      c.audioFrames[0]?.dts ?? null,
      detail,
      cause(FindingKind.AAC_SEQUENCE_HEADER_MISSING, 'audio', 1, null, detail),
    );
  }
}

/**
 * stable-headers: AAC headers all equal; a further AVC header only with new parameter sets
 * (a PPS change is a change too) and right before an IDR. Returns the real AVC changes.
 */
function checkStableHeaders(book: RuleBook, c: Collected): number {
  const aac = c.audioHeaders;
  const changedAac = aac.filter((h) => !h.params.equals((aac[0] as HeaderTag).params));
  book.breach(
    ContractRule.STABLE_HEADERS,
    changedAac.length,
    changedAac[0]?.dts ?? null,
    `${changedAac.length} AAC sequence headers differ from the first`,
    cause(
      FindingKind.AAC_SEQUENCE_HEADER_CHANGED,
      'audio',
      changedAac.length,
      changedAac[0]?.dts ?? null,
      `${changedAac.length} AAC sequence headers differ from the first`,
    ),
  );
  let changes = 0;
  const repeats: HeaderTag[] = [];
  const notAtIdr: HeaderTag[] = [];
  for (let i = 1; i < c.videoHeaders.length; i++) {
    const h = c.videoHeaders[i] as HeaderTag;
    if (h.params.equals((c.videoHeaders[i - 1] as HeaderTag).params)) {
      repeats.push(h);
      continue;
    }
    changes++;
    // Headers before any frame describe the first frame (checked by first-frame), not a change.
    if (h.framesBefore > 0 && c.videoFrames[h.framesBefore]?.idr !== true) notAtIdr.push(h);
  }
  book.breach(
    ContractRule.STABLE_HEADERS,
    repeats.length,
    repeats[0]?.dts ?? null,
    `${repeats.length} AVC sequence headers repeat unchanged parameter sets`,
    cause(
      FindingKind.AVC_SEQUENCE_HEADER_REPEATED,
      'video',
      repeats.length,
      repeats[0]?.dts ?? null,
      `AVC sequence header repeated unchanged ${repeats.length}x`,
    ),
  );
  book.breach(
    ContractRule.STABLE_HEADERS,
    notAtIdr.length,
    notAtIdr[0]?.dts ?? null,
    `${notAtIdr.length} changed AVC sequence headers not right before an IDR`,
    cause(
      FindingKind.AVC_SEQUENCE_HEADER_NOT_AT_IDR,
      'video',
      notAtIdr.length,
      notAtIdr[0]?.dts ?? null,
      `AVC sequence header changed ${notAtIdr.length}x away from an IDR`,
    ),
  );
  return changes;
}

/** avcc-framing: 4-byte length prefixes that tile each payload, no start code inside a NAL unit. */
function checkAvccFraming(book: RuleBook, c: Collected, framing: { annexb: number; mixed: number }): void {
  if (!isAvc(c.videoCodec)) return;
  const firstAt = (f: string): number | null => c.videoFrames.find((v) => v.framing === f)?.dts ?? null;
  book.breach(
    ContractRule.AVCC_FRAMING,
    framing.annexb,
    firstAt('annexb'),
    `${framing.annexb} frames in Annex-B framing`,
    cause(
      FindingKind.ANNEXB_FRAMING,
      'video',
      framing.annexb,
      firstAt('annexb'),
      `${framing.annexb} frames in Annex-B framing`,
    ),
  );
  book.breach(
    ContractRule.AVCC_FRAMING,
    framing.mixed,
    firstAt('mixed'),
    `${framing.mixed} frames with start codes under one length prefix`,
    cause(
      FindingKind.MIXED_FRAMING,
      'video',
      framing.mixed,
      firstAt('mixed'),
      `${framing.mixed} frames with start codes under one length prefix`,
    ),
  );
  const u = c.unsplittable;
  book.breach(
    ContractRule.AVCC_FRAMING,
    u.count,
    u.firstAtMs,
    `${u.count} payloads that tile neither as AVCC nor as Annex B`,
    cause(
      FindingKind.BAD_NAL_LENGTHS,
      'video',
      u.count,
      u.firstAtMs,
      `${u.count} payloads that tile neither as AVCC nor as Annex B`,
    ),
  );
  const sizes = [...c.nalLengthSizes].filter((s) => s !== 4);
  if (sizes.length)
    book.breach(
      ContractRule.AVCC_FRAMING,
      1,
      null,
      `${sizes.join('/')}-byte NAL length prefixes`,
      cause(FindingKind.BAD_NAL_LENGTHS, 'video', 1, null, `${sizes.join('/')}-byte NAL length prefixes`),
    );
}

/** raw-aac: no ADTS header inside an AAC raw frame. */
function checkRawAac(book: RuleBook, c: Collected, adts: number): void {
  const at = c.audioFrames.find((f) => f.adts)?.dts ?? null;
  book.breach(
    ContractRule.RAW_AAC,
    adts,
    at,
    `${adts} AAC frames with ADTS headers`,
    cause(FindingKind.ADTS_AUDIO, 'audio', adts, at, `${adts} AAC frames with ADTS headers`),
  );
}

/** aac-tag-byte: every AAC tag starts with AAC_TAG_BYTE. */
function checkAacTagByte(book: RuleBook, c: Collected): void {
  const { wrong, firstAtMs, seen } = c.aacTagBytes;
  if (wrong === 0) return;
  const detail = `${wrong} AAC tags start with ${[...seen]
    .filter((b) => b !== AAC_TAG_BYTE)
    .map(hex)
    .join('/')}, not ${hex(AAC_TAG_BYTE)}${seen.size > 1 ? ' (the byte changes mid-stream)' : ''}`;
  book.breach(
    ContractRule.AAC_TAG_BYTE,
    wrong,
    firstAtMs,
    detail,
    cause(FindingKind.AAC_TAG_BYTE, 'audio', wrong, firstAtMs, detail),
  );
}

/** The structural rules; returns the number of real AVC sequence header changes. */
export function checkStructure(
  book: RuleBook,
  c: Collected,
  framing: { annexb: number; mixed: number; adts: number },
): number {
  checkParse(book, c);
  checkMedia(book, c);
  checkCodecs(book, c);
  checkHeadersFirst(book, c);
  const changes = checkStableHeaders(book, c);
  checkAvccFraming(book, c, framing);
  checkRawAac(book, c, framing.adts);
  checkAacTagByte(book, c);
  return changes;
}
