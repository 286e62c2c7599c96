import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MediaFormatError, MediaFormatErrorCode } from './errors.js';
import { readFlv, type FlvTag } from './flv-reader.js';
import {
  buildAacAudioTagBody,
  withAacTagByte,
  buildAvcVideoTagBody,
  parseAudioTagBody,
  parseVideoTagBody,
} from './flv-tag.js';
import { metadataFields, parseScriptTagBody } from './flv-script-data.js';
import { classifyAudio, classifyVideo } from './media-tag.js';
import { Amf0EcmaArray, Amf0Error, Amf0TypedObject } from '../media/amf0.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { testEncode } from '../../test/support/media.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const ascii = (s: string): string => Buffer.from(s, 'latin1').toString('hex');

function tagError(fn: () => unknown): MediaFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(MediaFormatError);
    expect((err as MediaFormatError).code).toBe(MediaFormatErrorCode.FLV_TAG);
    return err as MediaFormatError;
  }
  throw new Error('expected FLV_TAG');
}

describe('legacy AVC video', () => {
  const avcc = hex('01 4d 40 1e ff e1 00 04 67 4d 40 1e 01 00 02 68 ee');

  it('builds and parses a sequence header', () => {
    const body = buildAvcVideoTagBody({ frameType: 1, packetType: 0, compositionTimeMs: 0, data: avcc });
    expect(body.subarray(0, 5).toString('hex')).toBe('1700000000');
    const v = parseVideoTagBody(body);
    expect(v).toMatchObject({
      frameType: 1,
      enhanced: false,
      codec: 'avc',
      codecId: 7,
      fourCc: null,
      packetKind: 'sequence-header',
      packetType: 0,
      compositionTimeMs: 0,
      headerBytes: 5,
    });
    expect(v.data.equals(avcc)).toBe(true);
    expect(v.data.buffer).toBe(body.buffer); // a view, not a copy
  });

  it('round-trips coded frames with negative, positive and extreme composition times', () => {
    const nalus = hex('00000005 6588840021');
    for (const ct of [-33, -1, 0, 1, 67, 0x7fffff, -0x800000]) {
      const body = buildAvcVideoTagBody({ frameType: 2, packetType: 1, compositionTimeMs: ct, data: nalus });
      const v = parseVideoTagBody(body);
      expect(v.compositionTimeMs).toBe(ct);
      expect(v.packetKind).toBe('coded-frames');
      expect(v.frameType).toBe(2);
      expect(v.data.equals(nalus)).toBe(true);
    }
    expect(
      buildAvcVideoTagBody({ frameType: 1, packetType: 1, compositionTimeMs: -33, data: nalus })
        .subarray(0, 5)
        .toString('hex'),
    ).toBe('1701ffffdf');
    expect(() =>
      buildAvcVideoTagBody({ frameType: 1, packetType: 1, compositionTimeMs: 0x800000, data: nalus }),
    ).toThrow(RangeError);
    expect(() =>
      buildAvcVideoTagBody({ frameType: 1, packetType: 1, compositionTimeMs: -0x800001, data: nalus }),
    ).toThrow(RangeError);
  });

  it('parses end of sequence, other legacy codecs and command frames', () => {
    expect(parseVideoTagBody(hex('1702000000'))).toMatchObject({
      packetKind: 'end-of-sequence',
      data: Buffer.alloc(0),
    });
    expect(parseVideoTagBody(hex('1705000000'))).toMatchObject({ packetKind: 'unknown', packetType: 5 });
    const vp6 = parseVideoTagBody(hex('24 00 aabb'));
    expect(vp6).toMatchObject({
      codec: 'vp6',
      codecId: 4,
      frameType: 2,
      packetKind: 'coded-frames',
      headerBytes: 1,
      packetType: null,
    });
    expect(vp6.data.toString('hex')).toBe('00aabb');
    expect(parseVideoTagBody(hex('12 0102')).codec).toBe('h263');
    expect(parseVideoTagBody(hex('1f')).codec).toBe('codec-15');
    expect(parseVideoTagBody(hex('1c 01 000010 aa'))).toMatchObject({
      codec: 'hevc-legacy',
      compositionTimeMs: 16,
      headerBytes: 5,
    });
    expect(parseVideoTagBody(hex('57 01'))).toMatchObject({
      frameType: 5,
      packetKind: 'command',
      videoCommand: 1,
      headerBytes: 2,
    });
  });

  it('throws FLV_TAG for bodies too short for their header', () => {
    tagError(() => parseVideoTagBody(Buffer.alloc(0)));
    tagError(() => parseVideoTagBody(hex('17')));
    tagError(() => parseVideoTagBody(hex('17000000')));
  });
});

describe('enhanced RTMP video', () => {
  const hvcc = hex('01 01 60 00 00 00 b0 00 00 00 00 00 5d f0 00 fc fd f8 f8 00 00 0f 03');
  const av1c = hex('81 00 0c 00 0a 0b 00 00 00 42 ab bf c3 70 0b e0');

  it('parses an hvc1 SequenceStart and CodedFrames with composition time', () => {
    const seq = parseVideoTagBody(Buffer.concat([hex('90'), Buffer.from('hvc1'), hvcc]));
    expect(seq).toMatchObject({
      frameType: 1,
      enhanced: true,
      codec: 'hvc1',
      codecId: null,
      fourCc: 'hvc1',
      packetKind: 'sequence-header',
      packetType: 0,
      headerBytes: 5,
    });
    expect(seq.data.equals(hvcc)).toBe(true);
    const frame = parseVideoTagBody(
      Buffer.concat([hex('91'), Buffer.from('hvc1'), hex('ffffbf'), hex('0000000a 2601')]),
    );
    expect(frame).toMatchObject({ packetKind: 'coded-frames', packetType: 1, compositionTimeMs: -65, headerBytes: 8 });
    expect(frame.data.toString('hex')).toBe('0000000a2601');
    tagError(() => parseVideoTagBody(Buffer.concat([hex('91'), Buffer.from('hvc1'), hex('ff')])));
  });

  it('parses CodedFramesX without composition time', () => {
    const x = parseVideoTagBody(Buffer.concat([hex('a3'), Buffer.from('hvc1'), hex('0000000a 0201')]));
    expect(x).toMatchObject({
      frameType: 2,
      codec: 'hvc1',
      packetKind: 'coded-frames',
      packetType: 3,
      compositionTimeMs: 0,
      headerBytes: 5,
    });
    expect(x.data.toString('hex')).toBe('0000000a0201');
  });

  it('parses av01 SequenceStart and CodedFrames (no composition time for AV1)', () => {
    const seq = parseVideoTagBody(Buffer.concat([hex('90'), Buffer.from('av01'), av1c]));
    expect(seq).toMatchObject({ codec: 'av01', packetKind: 'sequence-header', headerBytes: 5 });
    expect(seq.data.equals(av1c)).toBe(true);
    const frame = parseVideoTagBody(Buffer.concat([hex('a1'), Buffer.from('av01'), hex('12000a0b')]));
    expect(frame).toMatchObject({
      frameType: 2,
      codec: 'av01',
      packetKind: 'coded-frames',
      compositionTimeMs: 0,
      headerBytes: 5,
    });
    expect(frame.data.toString('hex')).toBe('12000a0b');
    expect(parseVideoTagBody(Buffer.concat([hex('95'), Buffer.from('av01'), hex('80')])).packetKind).toBe(
      'mpeg2ts-sequence-start',
    );
    expect(parseVideoTagBody(Buffer.concat([hex('a1'), Buffer.from('vp09'), hex('83')])).codec).toBe('vp09');
  });

  it('parses SequenceEnd, Metadata and unknown packet types', () => {
    expect(parseVideoTagBody(Buffer.concat([hex('92'), Buffer.from('avc1')]))).toMatchObject({
      packetKind: 'end-of-sequence',
      headerBytes: 5,
    });
    const meta = encodeAmf0('colorInfo', { colorConfig: { bitDepth: 10 } });
    const m = parseVideoTagBody(Buffer.concat([hex('d4'), Buffer.from('hvc1'), meta])); // frame type 5 is ignored for Metadata
    expect(m).toMatchObject({ packetKind: 'metadata', codec: 'hvc1', videoCommand: null });
    expect(m.data.equals(meta)).toBe(true);
    expect(parseVideoTagBody(Buffer.concat([hex('9c'), Buffer.from('hvc1')])).packetKind).toBe('unknown');
  });

  it('skips ModEx prefixes (8-bit and 16-bit sizes) before the real packet type', () => {
    // ModEx: size-1 = 2 (3 bytes of TimestampOffsetNano), then ModExType 0 | CodedFrames.
    const body = Buffer.concat([hex('97 02 0f4240 01'), Buffer.from('hvc1'), hex('000021'), hex('aabb')]);
    const v = parseVideoTagBody(body);
    expect(v).toMatchObject({
      frameType: 1,
      codec: 'hvc1',
      packetKind: 'coded-frames',
      packetType: 1,
      compositionTimeMs: 33,
      headerBytes: 13,
    });
    expect(v.data.toString('hex')).toBe('aabb');
    expect(classifyVideo(body)).toMatchObject({ codec: 'hvc1', isKeyframe: true });
    // Two prefixes, the second with a 16-bit size (UI8 255, UI16 299 -> 300 bytes).
    const long = Buffer.concat([
      hex('97 00 aa 07 ff 012b'),
      Buffer.alloc(300, 1),
      hex('03'),
      Buffer.from('av01'),
      hex('55'),
    ]);
    const l = parseVideoTagBody(long);
    expect(l).toMatchObject({ codec: 'av01', packetKind: 'coded-frames', packetType: 3, headerBytes: long.length - 1 });
    expect(l.data.toString('hex')).toBe('55');
    tagError(() => parseVideoTagBody(hex('97 05 0102')));
    tagError(() => parseVideoTagBody(hex('97 ff 01')));
  });

  it('parses command frames (no FourCC) and multitrack headers', () => {
    expect(parseVideoTagBody(hex('d1 00'))).toMatchObject({
      frameType: 5,
      packetKind: 'command',
      videoCommand: 0,
      fourCc: null,
      headerBytes: 2,
    });
    const one = parseVideoTagBody(Buffer.concat([hex('96 01'), Buffer.from('av01'), hex('00 1234')]));
    expect(one).toMatchObject({
      packetKind: 'multitrack',
      codec: 'av01',
      multitrack: { multitrackType: 0, packetType: 1 },
      headerBytes: 6,
    });
    expect(one.data.toString('hex')).toBe('001234');
    const many = parseVideoTagBody(hex('96 21 ' + ascii('hvc1') + '00 000003 abcdef'));
    expect(many).toMatchObject({
      packetKind: 'multitrack',
      codec: 'multitrack',
      fourCc: null,
      multitrack: { multitrackType: 2, packetType: 1 },
      headerBytes: 2,
    });
  });

  it('throws FLV_TAG for a missing FourCC', () => {
    tagError(() => parseVideoTagBody(hex('90')));
    tagError(() => parseVideoTagBody(hex('90 6876')));
    tagError(() => parseVideoTagBody(hex('96')));
  });
});

describe('audio', () => {
  it('builds and parses an AAC sequence header and raw frames', () => {
    const asc = hex('1210');
    const seq = buildAacAudioTagBody({ packetType: 0, data: asc });
    expect(seq.toString('hex')).toBe('af001210');
    expect(parseAudioTagBody(seq)).toMatchObject({
      soundFormat: 10,
      codec: 'aac',
      soundRateCode: 3,
      soundSize16: true,
      stereo: true,
      enhanced: false,
      aacPacketType: 0,
      isSequenceHeader: true,
      headerBytes: 2,
      data: asc,
    });
    const raw = buildAacAudioTagBody({ packetType: 1, data: hex('211b') });
    expect(raw.toString('hex')).toBe('af01211b');
    // A mono tag byte (some Android muxers) parses as sent; rinse never writes one.
    expect(parseAudioTagBody(hex('ae01211b'))).toMatchObject({
      aacPacketType: 1,
      isSequenceHeader: false,
      stereo: false,
      data: hex('211b'),
    });
    expect(parseAudioTagBody(hex('af05'))).toMatchObject({ aacPacketType: null, isSequenceHeader: false });
    tagError(() => parseAudioTagBody(hex('af')));
    tagError(() => parseAudioTagBody(Buffer.alloc(0)));
  });

  it('sets the AAC tag byte to 0xAF, copying only a body that lacks it', () => {
    const right = hex('af01211b');
    expect(withAacTagByte(right)).toBe(right);
    const mono = hex('ae01211b');
    const fixed = withAacTagByte(mono);
    expect(fixed.toString('hex')).toBe('af01211b');
    expect(mono.toString('hex')).toBe('ae01211b');
  });

  it('parses MP3 and other legacy formats with a 1-byte header', () => {
    const mp3 = parseAudioTagBody(hex('2e fffb9064'));
    expect(mp3).toMatchObject({
      soundFormat: 2,
      codec: 'mp3',
      soundRateCode: 3,
      soundSize16: true,
      stereo: false,
      aacPacketType: null,
      isSequenceHeader: false,
      headerBytes: 1,
    });
    expect(mp3.data.toString('hex')).toBe('fffb9064');
    expect(parseAudioTagBody(hex('72 d5'))).toMatchObject({ codec: 'g711a', soundRateCode: 0, soundSize16: true });
    expect(parseAudioTagBody(hex('c0')).codec).toBe('format-12');
  });

  it('parses enhanced audio (SoundFormat 9) with FourCC, ModEx and multitrack', () => {
    const opus = parseAudioTagBody(Buffer.concat([hex('90'), Buffer.from('Opus'), hex('4f707573')]));
    expect(opus).toMatchObject({
      enhanced: true,
      codec: 'Opus',
      fourCc: 'Opus',
      audioPacketType: 0,
      isSequenceHeader: true,
      headerBytes: 5,
    });
    const frame = parseAudioTagBody(Buffer.concat([hex('97 02 000001 01'), Buffer.from('mp4a'), hex('2100')]));
    expect(frame).toMatchObject({ codec: 'mp4a', audioPacketType: 1, isSequenceHeader: false, headerBytes: 10 });
    expect(frame.data.toString('hex')).toBe('2100');
    const multi = parseAudioTagBody(Buffer.concat([hex('95 11'), Buffer.from('fLaC'), hex('00 000002 aabb')]));
    expect(multi).toMatchObject({ codec: 'fLaC', multitrack: { multitrackType: 1, packetType: 1 }, headerBytes: 6 });
    tagError(() => parseAudioTagBody(hex('91 4f70')));
  });
});

describe('script data', () => {
  it('parses a name and its value, and flattens metadata fields', () => {
    const body = encodeAmf0(
      'onMetaData',
      new Amf0EcmaArray({ width: 640, stereo: true, encoder: 'x', nested: { a: 1 }, n: null }),
    );
    const s = parseScriptTagBody(body);
    expect(s.name).toBe('onMetaData');
    expect(s.value).toBeInstanceOf(Amf0EcmaArray);
    expect(s.values).toHaveLength(1);
    expect({ ...metadataFields(s.value) }).toEqual({ width: 640, stereo: true, encoder: 'x' });
    expect({ ...metadataFields({ height: 360 }) }).toEqual({ height: 360 });
    expect({ ...metadataFields(new Amf0TypedObject('Meta', { fps: 25 })) }).toEqual({ fps: 25 });
    expect({ ...metadataFields(42) }).toEqual({});
    const bare = parseScriptTagBody(encodeAmf0('onCuePoint'));
    expect(bare.value).toBeUndefined();
    expect(bare.values).toEqual([]);
  });

  it('rejects a body without a leading name and lets AMF0 errors through', () => {
    tagError(() => parseScriptTagBody(encodeAmf0(1, 'x')));
    tagError(() => parseScriptTagBody(Buffer.alloc(0)));
    expect(() => parseScriptTagBody(encodeAmf0('onMetaData', { width: 1 }).subarray(0, 20))).toThrow(Amf0Error);
  });
});

describe('a real ffmpeg FLV', () => {
  let tags: FlvTag[];
  beforeAll(async () => {
    tags = readFlv(readFileSync(await testEncode())).tags;
  });

  it('starts with onMetaData describing the encode', () => {
    const first = tags[0] as FlvTag;
    expect(first.tagType).toBe(18);
    const script = parseScriptTagBody(first.data);
    expect(script.name).toBe('onMetaData');
    const meta = metadataFields(script.value);
    expect(meta).toMatchObject({
      width: 1280,
      height: 720,
      framerate: 30,
      videocodecid: 7,
      audiocodecid: 10,
      audiosamplerate: 44100,
      stereo: true,
    });
    expect(typeof meta.videodatarate).toBe('number');
    expect(typeof meta.encoder).toBe('string');
  });

  it('has AVC and AAC bodies that parse, agree with media-tag.ts and rebuild byte for byte', () => {
    let sequenceHeaders = 0;
    let negativeCts = 0;
    for (const t of tags) {
      if (t.tagType === 9) {
        const v = parseVideoTagBody(t.data);
        const k = classifyVideo(t.data);
        expect(v.codec).toBe('avc');
        expect(v.packetKind === 'sequence-header').toBe(k.isSequenceHeader);
        expect(v.frameType).toBe(k.frameType);
        if (v.packetKind === 'sequence-header') sequenceHeaders++;
        if (v.compositionTimeMs < 0) negativeCts++;
        const rebuilt = buildAvcVideoTagBody({
          frameType: v.frameType,
          packetType: v.packetType as 0 | 1 | 2,
          compositionTimeMs: v.compositionTimeMs,
          data: v.data,
        });
        expect(rebuilt.equals(t.data)).toBe(true);
      } else if (t.tagType === 8) {
        const a = parseAudioTagBody(t.data);
        expect(a.codec).toBe('aac');
        expect(a.isSequenceHeader).toBe(classifyAudio(t.data).isSequenceHeader);
        if (a.isSequenceHeader) sequenceHeaders++;
        const rebuilt = buildAacAudioTagBody({ packetType: a.aacPacketType as 0 | 1, data: a.data });
        expect(rebuilt.equals(t.data)).toBe(true);
      }
    }
    expect(sequenceHeaders).toBe(2);
    expect(negativeCts).toBe(0); // ffmpeg's FLV muxer shifts so that composition times are never negative
  });
});
