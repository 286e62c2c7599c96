/**
 * AMF0 split test: command and data messages (connect, publish, onMetaData) travel
 * through the chunk parser cut into pieces of every standard size, and decode to the
 * same values whole, in 1-byte, 1460-byte and seeded random pieces. The decoder also
 * reads from views at odd offsets into larger buffers, as the parser hands them out.
 */
import { describe, expect, it } from 'vitest';
import { Amf0EcmaArray, type Amf0Value } from '../media/amf0.js';
import { decodeAmf0 } from '../media/amf0-reader.js';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { ChunkParser } from './chunk-parser.js';
import { ChunkWriter } from './chunk-writer.js';
import { MessageType } from './message-types.js';
import { splits } from '../../test/support/split.js';

const COMMANDS: Amf0Value[][] = [
  [
    'connect',
    1,
    {
      app: 'live',
      type: 'nonprivate',
      flashVer: 'FMLE/3.0 (compatible; FMSc/1.0)',
      swfUrl: 'rtmp://127.0.0.1:1935/live',
      tcUrl: 'rtmp://127.0.0.1:1935/live',
      fpad: false,
      capabilities: 239,
      audioCodecs: 3575,
      videoCodecs: 252,
      videoFunction: 1,
      objectEncoding: 0,
    },
  ],
  ['releaseStream', 2, null, 'u1/s1'],
  ['FCPublish', 3, null, 'u1/s1'],
  ['createStream', 4, null],
  ['publish', 5, null, 'u1/s1', 'live'],
  [
    '@setDataFrame',
    'onMetaData',
    new Amf0EcmaArray(
      Object.assign(Object.create(null) as Record<string, Amf0Value>, {
        duration: 0,
        width: 1280,
        height: 720,
        videodatarate: 2500,
        framerate: 30,
        videocodecid: 7,
        audiodatarate: 128,
        audiosamplerate: 44100,
        audiosamplesize: 16,
        stereo: true,
        audiocodecid: 10,
        encoder: 'Lavf58.24.100 — ünïcödé',
        filesize: 0,
        description: 'x'.repeat(70_000),
      }),
    ),
  ],
];

function decodedThroughParser(pieces: Buffer[]): unknown[] {
  const out: unknown[] = [];
  const parser = new ChunkParser({
    onMessage: (m) => {
      if (m.typeId === MessageType.COMMAND_AMF0 || m.typeId === MessageType.DATA_AMF0) out.push(decodeAmf0(m.payload));
    },
  });
  for (const p of pieces) parser.push(p);
  return out;
}

describe('AMF0 split test', () => {
  const writer = new ChunkWriter();
  const bytes = Buffer.concat(
    COMMANDS.map((values, i) =>
      writer.write(3, {
        typeId: i === COMMANDS.length - 1 ? MessageType.DATA_AMF0 : MessageType.COMMAND_AMF0,
        streamId: i >= 4 ? 1 : 0,
        timestampMs: 0,
        payload: encodeAmf0(...values),
      }),
    ),
  );
  const expected = COMMANDS.map((values) => decodeAmf0(encodeAmf0(...values)));

  for (const split of splits(bytes)) {
    it(`decodes the same values for ${split.name}`, () => {
      expect(decodedThroughParser(split.pieces)).toEqual(expected);
    });
  }

  it('decodes from views at every offset 0..15 into a larger buffer', () => {
    const body = encodeAmf0(...(COMMANDS[0] as Amf0Value[]));
    for (let offset = 0; offset < 16; offset++) {
      const big = Buffer.alloc(body.length + 32, 0x11); // 0x11 around it would be an AMF3 switch if read
      body.copy(big, offset);
      expect(decodeAmf0(big.subarray(offset, offset + body.length))).toEqual(decodeAmf0(body));
    }
  });
});
