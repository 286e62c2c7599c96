/** OutputGop on real H.264 tags (the all-intra fixture): a restart IDR under the minimum is demoted only when allowed. */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureFixtures } from '../../fixtures/generate.js';
import { readFlv } from '../flv/flv-reader.js';
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { nalType, NalType, splitAvcc } from '../flv/nal-units.js';
import { OutputGop } from './output-gop.js';

const isIdr = (body: Buffer): boolean =>
  splitAvcc(parseVideoTagBody(body).data).some((n) => nalType(n) === NalType.IDR);

describe('OutputGop', () => {
  let header: Buffer;
  let frames: Array<{ ts: number; body: Buffer }>;
  beforeAll(async () => {
    const f = (await ensureFixtures()).find((x) => x.name === 'all-intra')!;
    const video = readFlv(readFileSync(f.file)).tags.filter((t) => t.tagType === 9);
    header = video.find((t) => parseVideoTagBody(t.data).packetKind === 'sequence-header')!.data;
    frames = video
      .filter((t) => parseVideoTagBody(t.data).packetKind === 'coded-frames')
      .map((t) => ({ ts: t.timestampMs, body: t.data }));
  }, 300_000);

  it('keeps the first IDR and every IDR that follows a new sequence header', () => {
    const gop = new OutputGop();
    gop.header(header);
    for (const f of frames.slice(0, 10)) expect(gop.frame(f.body, f.ts, false)).toBe(f.body);
    expect(gop.demoted).toBe(0);
  });

  it('demotes an IDR under the minimum interval when the parameter sets are unchanged', () => {
    const gop = new OutputGop();
    gop.header(header);
    const [first, second] = frames as [{ ts: number; body: Buffer }, { ts: number; body: Buffer }];
    expect(gop.frame(first.body, first.ts, true)).toBe(first.body);
    const out = gop.frame(second.body, second.ts, true);
    expect(isIdr(second.body)).toBe(true);
    expect(isIdr(out)).toBe(false);
    expect((out[0] as number) >> 4).toBe(2);
    expect(gop.demoted).toBe(1);
    // 2 s later an IDR is kept again.
    const later = frames.find((f) => f.ts - first.ts >= 1900)!;
    expect(isIdr(gop.frame(later.body, later.ts, true))).toBe(true);
  });
});
