import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../flv/flv-reader.js';
import { parseAudioTagBody, parseVideoTagBody } from '../flv/flv-tag.js';
import { ensureFixtures } from '../../fixtures/generate.js';
import { StreamFixer } from './stream-fixer.js';
import { type MediaTag } from '../media/tag-kinds.js';

const isAudioHeader = (t: MediaTag): boolean => t.tagType === 8 && parseAudioTagBody(t.data).isSequenceHeader;
const isVideoHeader = (t: MediaTag): boolean =>
  t.tagType === 9 && parseVideoTagBody(t.data).packetKind === 'sequence-header';

function run(tags: MediaTag[]): MediaTag[] {
  const out: MediaTag[] = [];
  const fixer = new StreamFixer((t) => out.push(t));
  for (const t of tags) fixer.push(t);
  fixer.flush();
  return out;
}

/** Move the first tag matching `pick` after the `after`-th tag of the same type. */
function late(tags: MediaTag[], pick: (t: MediaTag) => boolean, after: number): MediaTag[] {
  const header = tags.find(pick) as MediaTag;
  const rest = tags.filter((t) => t !== header);
  let seen = 0;
  const at = rest.findIndex((t) => t.tagType === header.tagType && ++seen > after);
  return [...rest.slice(0, at), header, ...rest.slice(at)];
}

describe('late sequence headers lose no frames', () => {
  let tags: MediaTag[];
  beforeAll(async () => {
    const clean = (await ensureFixtures()).find((f) => f.name === 'clean-720p30')!;
    tags = readFlv(readFileSync(clean.file)).tags;
  }, 300_000);

  it('holds AAC frames until a late AudioSpecificConfig, then sends header first', () => {
    const out = run(late(tags, isAudioHeader, 10));
    const audio = out.filter((t) => t.tagType === 8);
    expect(isAudioHeader(audio[0]!)).toBe(true);
    expect(audio.length).toBe(tags.filter((t) => t.tagType === 8).length);
  });

  it('holds video frames until a late AVC sequence header, then sends header first', () => {
    const out = run(late(tags, isVideoHeader, 10));
    const video = out.filter((t) => t.tagType === 9);
    expect(isVideoHeader(video[0]!)).toBe(true);
    const coded = (list: MediaTag[]): number =>
      list.filter((t) => t.tagType === 9 && parseVideoTagBody(t.data).packetKind === 'coded-frames').length;
    expect(coded(video)).toBe(coded(tags));
    expect(coded(video)).toBe(180);
  });
});
