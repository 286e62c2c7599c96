/**
 * The notes of `rinse inspect`: what it reports that breaks no contract rule (a bitrate
 * under Cloudflare's recommendation, onMetaData the bitstream contradicts, a live stall).
 */
import { cause, FindingKind, type RuleBook } from './findings.js';
import { round, type Collected } from './report-types.js';

/** No tag for this long on a live connection is a stall, in ms. */
export const LIVE_STALL_MS = 1000;
/** Combined bitrate Cloudflare recommends at least (a SHOULD: reported, not a broken rule), in kbit/s. */
export const MIN_RECOMMENDED_BITRATE_KBPS = 2000;
/** onMetaData's framerate may differ from the SPS's by this much before it is called a mismatch. */
const FRAMERATE_SLACK = 0.5;

export type Metadata = Record<string, number | string | boolean> | null;

/** onMetaData against the SPS and the AudioSpecificConfig. */
export function metadataMismatches(c: Collected, metadata: Metadata): string[] {
  const out: string[] = [];
  if (!metadata) return out;
  const sps = c.sps;
  if (sps) {
    if (typeof metadata.width === 'number' && metadata.width !== sps.width)
      out.push(`width ${metadata.width} declared, ${sps.width} in the SPS`);
    if (typeof metadata.height === 'number' && metadata.height !== sps.height)
      out.push(`height ${metadata.height} declared, ${sps.height} in the SPS`);
    const spsFps = sps.vui?.fps ?? null;
    if (
      typeof metadata.framerate === 'number' &&
      spsFps !== null &&
      Math.abs(metadata.framerate - spsFps) > FRAMERATE_SLACK
    ) {
      out.push(`framerate ${metadata.framerate} declared, ${round(spsFps, 2)} in the SPS`);
    }
  }
  if (c.sampleRate && typeof metadata.audiosamplerate === 'number' && metadata.audiosamplerate !== c.sampleRate) {
    out.push(`audiosamplerate ${metadata.audiosamplerate} declared, ${c.sampleRate} in the AudioSpecificConfig`);
  }
  return out;
}

/** Adds the notes to `book`: low bitrate (judged from a second of media on), metadata mismatches, live stalls. */
export function addNotes(
  book: RuleBook,
  c: Collected,
  measured: { seconds: number; bitrateKbps: number; mismatches: readonly string[] },
): void {
  const { seconds, bitrateKbps, mismatches } = measured;
  if (seconds >= 1 && bitrateKbps < MIN_RECOMMENDED_BITRATE_KBPS)
    book.note(
      cause(
        FindingKind.LOW_BITRATE,
        'both',
        1,
        null,
        `${bitrateKbps} kbit/s in all (Cloudflare recommends at least ${MIN_RECOMMENDED_BITRATE_KBPS})`,
      ),
    );
  if (mismatches.length)
    book.note(cause(FindingKind.METADATA_MISMATCH, 'both', mismatches.length, null, mismatches.join('; ')));
  const stalls = c.liveStalls;
  if (stalls.count > 0)
    book.note(
      cause(
        FindingKind.STALL,
        'both',
        stalls.count,
        stalls.firstAtMs,
        `no media for >= ${LIVE_STALL_MS / 1000} s on the live connection ${stalls.count}x`,
      ),
    );
}
