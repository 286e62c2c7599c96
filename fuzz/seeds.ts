/**
 * Seeds from real streams: the generated FLV fixtures (real libx264/libx265 + AAC encodes)
 * cut into what each parser reads: small FLV files, tag bodies, AVC configuration records,
 * SPS, PPS, slices, NAL payloads, ADTS frames, AudioSpecificConfigs and onMetaData bodies.
 * The RTMP byte streams come from the project's own writers (stream-seeds.ts).
 */
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_DIR } from '../fixtures/generate.js';
import { parseAvcConfig } from '../src/flv/avc-config.js';
import { isAdts } from '../src/flv/adts.js';
import {
  FLV_HEADER_BYTES,
  FLV_PREVIOUS_TAG_SIZE_BYTES,
  FLV_TAG_HEADER_BYTES,
  FlvReader,
  type FlvTag,
} from '../src/flv/flv-reader.js';
import { parseAudioTagBody, parseVideoTagBody } from '../src/flv/flv-tag.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { NalType, nalType, splitNalUnits } from '../src/flv/nal-units.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO } from '../src/media/tag-kinds.js';
import type { LengthField, Seed } from './mutators.js';

/** The fixtures seeds come from: every profile, framing, audio form and codec the corpus has. */
export const SEED_FIXTURES = [
  'clean-720p30',
  'clean-540x960-14',
  'hevc',
  'adts-audio',
  'glasses-default',
  'glasses-aac-ae',
  'bframes-dirty',
  'sps-change',
  'sps-timing-mismatch',
  'mixed-framing',
  'annexb-framing',
  'inband-sps-only',
  'low-bitrate',
  'all-intra',
] as const;

/** Tags read from each fixture: the start of a stream holds every kind of tag there is. */
const TAGS_PER_FIXTURE = 240;
/** Bytes read from the start of each fixture (a few seconds of it). */
const FIXTURE_HEAD_BYTES = 768 * 1024;
/** Tag bodies kept for the tag header parsers: the header and a little after it. */
const TAG_HEAD_BYTES = 48;
/** Slices kept for the slice header parser: its reader looks at 64 bytes at most. */
const SLICE_HEAD_BYTES = 96;
/** Bodies in the small FLV seeds: the reader's work is headers, not body bytes. */
const FLV_SEED_BODY_BYTES = 160;
/** Frames whose whole NAL payload is a seed (the small P-frames of the low-bitrate encodes). */
const MAX_NAL_PAYLOAD_BYTES = 4096;
/** Seeds kept per kind, spread over what was found. */
const MAX_SEEDS = 64;

export interface MediaSeeds {
  flvFiles: Seed[];
  videoHeads: Seed[];
  audioHeads: Seed[];
  scriptBodies: Seed[];
  avcConfigs: Seed[];
  sps: Seed[];
  pps: Seed[];
  slices: Seed[];
  nalPayloads: Seed[];
  adts: Seed[];
  ascs: Seed[];
  /** The first audio and video tags of the clean 720p30 fixture, whole: the media of the chunk stream seeds. */
  sessionTags: FlvTag[];
}

/** The fixture files that are missing (empty when every seed fixture is there). */
export function missingSeedFixtures(dir = FIXTURE_DIR): string[] {
  return SEED_FIXTURES.filter((name) => !existsSync(join(dir, `${name}.flv`)));
}

/** Distinct byte strings, at most MAX_SEEDS of them, spread evenly over the list. */
class SeedSet {
  private readonly seen = new Map<string, Seed>();

  add(bytes: Buffer, extra: Omit<Seed, 'bytes'> = {}): void {
    if (bytes.length === 0) return;
    const key = bytes.toString('base64');
    if (!this.seen.has(key)) this.seen.set(key, { bytes: Buffer.from(bytes), ...extra });
  }

  list(): Seed[] {
    const all = [...this.seen.values()];
    if (all.length <= MAX_SEEDS) return all;
    const step = all.length / MAX_SEEDS;
    return Array.from({ length: MAX_SEEDS }, (_, i) => all[Math.floor(i * step)] as Seed);
  }
}

interface Sets {
  flv: SeedSet;
  video: SeedSet;
  audio: SeedSet;
  script: SeedSet;
  avcc: SeedSet;
  sps: SeedSet;
  pps: SeedSet;
  slices: SeedSet;
  nals: SeedSet;
  adts: SeedSet;
  asc: SeedSet;
}

/** An AVCDecoderConfigurationRecord's length fields: each parameter set's u16 length. */
function avcConfigLengths(record: Buffer): LengthField[] {
  const fields: LengthField[] = [{ offset: 5, width: 1 }];
  try {
    const config = parseAvcConfig(record);
    let pos = 6;
    for (const nal of config.sps) {
      fields.push({ offset: pos, width: 2 });
      pos += 2 + nal.length;
    }
    fields.push({ offset: pos, width: 1 });
    pos += 1;
    for (const nal of config.pps) {
      fields.push({ offset: pos, width: 2 });
      pos += 2 + nal.length;
    }
  } catch {
    // Only the count field is hinted for a record we cannot walk.
  }
  return fields;
}

function addVideo(body: Buffer, sets: Sets): void {
  sets.video.add(body.subarray(0, TAG_HEAD_BYTES));
  let parsed;
  try {
    parsed = parseVideoTagBody(body);
  } catch {
    return;
  }
  if (parsed.codec !== 'avc') return;
  if (parsed.packetKind === 'sequence-header') {
    sets.avcc.add(parsed.data, { lengths: avcConfigLengths(parsed.data) });
    try {
      const config = parseAvcConfig(parsed.data);
      for (const nal of config.sps) sets.sps.add(nal);
      for (const nal of config.pps) sets.pps.add(nal);
    } catch {
      // A fixture with a broken record on purpose: its body is still a tag seed.
    }
    return;
  }
  if (parsed.packetKind !== 'coded-frames') return;
  if (parsed.data.length <= MAX_NAL_PAYLOAD_BYTES) sets.nals.add(parsed.data);
  let nals: Buffer[];
  try {
    nals = splitNalUnits(parsed.data).nals;
  } catch {
    return;
  }
  for (const nal of nals) {
    const type = nalType(nal);
    if (type === NalType.SLICE || type === NalType.IDR) sets.slices.add(nal.subarray(0, SLICE_HEAD_BYTES));
    else if (type === NalType.SPS) sets.sps.add(nal);
    else if (type === NalType.PPS) sets.pps.add(nal);
  }
}

function addAudio(body: Buffer, sets: Sets): void {
  sets.audio.add(body.subarray(0, TAG_HEAD_BYTES));
  let parsed;
  try {
    parsed = parseAudioTagBody(body);
  } catch {
    return;
  }
  if (parsed.isSequenceHeader) sets.asc.add(parsed.data);
  else if (isAdts(parsed.data)) sets.adts.add(parsed.data);
}

/** A small FLV file: the fixture's header and first tags, bodies cut short. */
function flvSeed(tags: { tagType: number; timestampMs: number; data: Buffer }[]): Seed {
  const cut = tags.map((t) => ({ ...t, data: t.data.subarray(0, FLV_SEED_BODY_BYTES) }));
  const bytes = encodeFlv({ hasAudio: true, hasVideo: true }, cut);
  const lengths: LengthField[] = [{ offset: 5, width: 4 }];
  const boundaries: number[] = [FLV_HEADER_BYTES];
  let pos = FLV_HEADER_BYTES + FLV_PREVIOUS_TAG_SIZE_BYTES;
  for (const t of cut) {
    boundaries.push(pos);
    lengths.push({ offset: pos + 1, width: 3 });
    pos += FLV_TAG_HEADER_BYTES + t.data.length;
    lengths.push({ offset: pos, width: 4 });
    pos += FLV_PREVIOUS_TAG_SIZE_BYTES;
  }
  return { bytes, lengths, boundaries };
}

/** The first tags of a fixture file, read from its start only. */
function firstTags(path: string): FlvTag[] {
  const tags: FlvTag[] = [];
  const reader = new FlvReader({ onTag: (t) => void tags.push(t) });
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.allocUnsafe(FIXTURE_HEAD_BYTES);
    reader.push(head.subarray(0, readSync(fd, head, 0, head.length, 0)));
  } finally {
    closeSync(fd);
  }
  return tags.slice(0, TAGS_PER_FIXTURE);
}

function addFixture(path: string, sets: Sets): void {
  const tags = firstTags(path);
  for (const tag of tags) {
    if (tag.tagType === TAG_VIDEO) addVideo(tag.data, sets);
    else if (tag.tagType === TAG_AUDIO) addAudio(tag.data, sets);
    else if (tag.tagType === TAG_SCRIPT) sets.script.add(tag.data);
  }
  // The opening (metadata, sequence headers, first frames) and a stretch from the middle.
  for (const [from, count] of [
    [0, 6],
    [0, 16],
    [40, 10],
  ] as const) {
    const seed = flvSeed(tags.slice(from, from + count));
    sets.flv.add(seed.bytes, seed);
  }
}

/** Every fixture-derived seed. Throws when a seed fixture is missing (see missingSeedFixtures). */
export function mediaSeeds(dir = FIXTURE_DIR): MediaSeeds {
  const sets: Sets = {
    flv: new SeedSet(),
    video: new SeedSet(),
    audio: new SeedSet(),
    script: new SeedSet(),
    avcc: new SeedSet(),
    sps: new SeedSet(),
    pps: new SeedSet(),
    slices: new SeedSet(),
    nals: new SeedSet(),
    adts: new SeedSet(),
    asc: new SeedSet(),
  };
  for (const name of SEED_FIXTURES) addFixture(join(dir, `${name}.flv`), sets);
  const sessionTags = firstTags(join(dir, `${SEED_FIXTURES[0]}.flv`)).filter((t) => t.tagType !== TAG_SCRIPT);
  return {
    flvFiles: sets.flv.list(),
    videoHeads: sets.video.list(),
    audioHeads: sets.audio.list(),
    scriptBodies: sets.script.list(),
    avcConfigs: sets.avcc.list(),
    sps: sets.sps.list(),
    pps: sets.pps.list(),
    slices: sets.slices.list(),
    nalPayloads: sets.nals.list(),
    adts: sets.adts.list(),
    ascs: sets.asc.list(),
    sessionTags,
  };
}
