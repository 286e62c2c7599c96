/**
 * Fuzz targets of the byte-stream parsers: the RTMP handshake (both sides), the chunk stream
 * (with the protocol control a connection applies to what comes out), AMF0 and the FLV file
 * reader. Each is fed as the relay feeds it: push parsers piece by piece, with default limits.
 */
import { FlvReader, type FlvHeader, type FlvTag } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { decodeAmf0 } from '../src/media/amf0-reader.js';
import { Marker } from '../src/media/amf0.js';
import { splitAggregate } from '../src/rtmp/aggregate.js';
import { ChunkParser, EXTENDED_TIMESTAMP_MARKER, MAX_CHUNK_SIZE_FIELD } from '../src/rtmp/chunk-parser.js';
import { ClientHandshake, HANDSHAKE_SIZE, RTMP_VERSION, ServerHandshake } from '../src/rtmp/handshake.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { ProtocolControl } from '../src/rtmp/protocol-control.js';
import {
  generateAmf0,
  generateChunkStream,
  generateClientHello,
  generateFlv,
  generateServerReply,
} from './generators.js';
import { Rng } from './prng.js';
import { handshakeClock, handshakeRandom } from './stream-seeds.js';
import { InvariantError, forEachPiece, type FuzzTarget } from './target-types.js';

/** C0 + C1 + C2 (or S0 + S1 + S2): what one side of a handshake reads at most. */
const HANDSHAKE_BYTES = 1 + 2 * HANDSHAKE_SIZE;

/** The FLV reader's tag limit in most inputs (the default, 16 MiB, in one in eight): still 4x the largest input. */
const FUZZ_MAX_TAG_BYTES = 256 * 1024;

function ignore(): void {}

const bytes = (...values: number[]): Buffer => Buffer.from(values);
function uint(value: number, width: number): Buffer {
  const out = Buffer.alloc(width);
  out.writeUIntBE(value, 0, width);
  return out;
}
const HANDSHAKE_DICTIONARY = [
  bytes(RTMP_VERSION),
  bytes(6),
  bytes(0, 0, 0, 0),
  bytes(0x80, 0x00, 0x07, 0x02),
  bytes(0x0d, 0x0e, 0x0a, 0x0d),
];

export const handshakeServer: FuzzTarget = {
  name: 'handshake-server',
  what: 'ServerHandshake.push (C0, C1 digest schemes, C2)',
  push: true,
  maxBytes: 8192,
  generatedPercent: 20,
  dictionary: HANDSHAKE_DICTIONARY,
  seeds: (corpus) => corpus.serverHandshakes,
  generate: generateClientHello,
  prepare: () => (input) => {
    const replies: number[] = [];
    const send = (reply: Buffer): void => void replies.push(reply.length);
    const handshake = new ServerHandshake({ send, random: handshakeRandom, nowMs: handshakeClock });
    forEachPiece(input, (piece) => {
      handshake.push(piece);
      return !handshake.done; // the connection hands what follows to the chunk parser
    });
    if (handshake.bytesReceived > HANDSHAKE_BYTES) throw new InvariantError(`read ${handshake.bytesReceived} bytes`);
    // S0 + S1 + S2 in one send, once C0 + C1 are in.
    if (replies.length > 1 || (replies.length === 1 && replies[0] !== HANDSHAKE_BYTES))
      throw new InvariantError(`replied ${replies.join(' + ')} bytes`);
    return handshake.done ? handshake.mode : 'incomplete';
  },
};

export const handshakeClient: FuzzTarget = {
  name: 'handshake-client',
  what: 'ClientHandshake.push (S0, S1 digest, S2 signature)',
  push: true,
  maxBytes: 8192,
  generatedPercent: 20,
  dictionary: HANDSHAKE_DICTIONARY,
  seeds: (corpus) => corpus.clientHandshakes,
  generate: generateServerReply,
  prepare: () => (input) => {
    const mode = new Rng(input.choice).chance(0.8) ? 'digest' : 'simple';
    const handshake = new ClientHandshake({ send: ignore, random: handshakeRandom, nowMs: handshakeClock, mode });
    handshake.start();
    forEachPiece(input, (piece) => {
      handshake.push(piece);
      return !handshake.done;
    });
    return handshake.done ? handshake.mode : 'incomplete';
  },
};

export const chunkParser: FuzzTarget = {
  name: 'chunk-parser',
  what: 'ChunkParser.push (default limits) + ProtocolControl.handle + splitAggregate',
  push: true,
  maxBytes: 65536,
  generatedPercent: 20,
  dictionary: [
    uint(EXTENDED_TIMESTAMP_MARKER, 3),
    uint(MAX_CHUNK_SIZE_FIELD, 4),
    uint(1, 4),
    bytes(MessageType.SET_CHUNK_SIZE),
    bytes(MessageType.ABORT),
    bytes(MessageType.USER_CONTROL),
    bytes(MessageType.AGGREGATE),
    bytes(MessageType.COMMAND_AMF3),
    bytes(0x00),
    bytes(0x01),
    bytes(0xc3),
    bytes(0x43),
    bytes(0x83),
  ],
  seeds: (corpus) => corpus.chunkStreams,
  generate: generateChunkStream,
  prepare: () => (input) => {
    let messages = 0;
    const control = new ProtocolControl(ignore);
    const parser = new ChunkParser({
      // Slabs (what the relay runs) or one buffer per message: both ways of carving payloads.
      payloadSlabBytes: (input.choice & 1) === 0 ? undefined : 0,
      onMessage: (message) => {
        messages++;
        // As a connection does: control messages applied, aggregates split into their sub-messages.
        if (message.typeId === MessageType.AGGREGATE) splitAggregate(message);
        else control.handle(message);
      },
    });
    forEachPiece(input, (piece) => void parser.push(piece));
    if (parser.bufferedBytes < 0) throw new InvariantError(`${parser.bufferedBytes} bytes buffered`);
    return messages === 0 ? 'no-message' : 'messages';
  },
};

export const amf0: FuzzTarget = {
  name: 'amf0',
  what: 'decodeAmf0 (every value of a command or data body)',
  push: false,
  maxBytes: 8192,
  generatedPercent: 20,
  dictionary: [
    ...Object.values(Marker).map((m) => bytes(m)),
    bytes(0x00, 0x00, Marker.OBJECT_END),
    bytes(Marker.REFERENCE, 0x00, 0x00),
    bytes(Marker.STRICT_ARRAY, 0xff, 0xff, 0xff, 0xff),
    bytes(Marker.STRING, 0xff, 0xff),
    bytes(Marker.OBJECT, Marker.OBJECT, Marker.OBJECT, Marker.OBJECT),
  ],
  seeds: (corpus) => corpus.amf0,
  generate: generateAmf0,
  prepare: () => (input) => (decodeAmf0(input.bytes).length === 0 ? 'empty' : 'values'),
};

/** The reader's promise (flv-reader.ts): what it read is enough to write the file again, byte for byte. */
function checkRewrite(file: Buffer, header: FlvHeader | null, tags: readonly FlvTag[]): void {
  if (header === null) throw new InvariantError('a file read to its end without a header');
  const h: FlvHeader = header;
  const again = encodeFlv(h, tags);
  if (!again.equals(file)) {
    const at = again.findIndex((b, i) => b !== file[i]);
    throw new InvariantError(
      `rewritten file of ${again.length} bytes differs from the ${file.length} read, at byte ${at}`,
    );
  }
}

export const flvReader: FuzzTarget = {
  name: 'flv-reader',
  what: 'FlvReader.push + end (copies and views)',
  push: true,
  maxBytes: 65536,
  generatedPercent: 15,
  dictionary: [
    Buffer.from('FLV', 'latin1'),
    bytes(0x01),
    bytes(0x05),
    bytes(0x08),
    bytes(0x09),
    bytes(0x12),
    bytes(0x00, 0x00, 0x00, 0x09),
    bytes(0xff, 0xff, 0xff),
  ],
  seeds: (corpus) => corpus.flvFiles,
  generate: generateFlv,
  prepare: () => (input) => {
    let header: FlvHeader | null = null;
    const tags: FlvTag[] = [];
    const reader = new FlvReader({
      views: (input.choice & 1) === 1,
      // Mostly a lower tag limit: a lying DataSize then allocates at most 256 KiB, not 16 MiB (same code, more inputs).
      limits: (input.choice & 0x0e) === 0 ? undefined : { maxTagBytes: FUZZ_MAX_TAG_BYTES },
      onHeader: (h) => {
        header = h;
      },
      onTag: (tag) => void tags.push(tag),
    });
    forEachPiece(input, (piece) => void reader.push(piece));
    reader.end();
    checkRewrite(input.bytes, header, tags);
    return tags.length > 0 ? 'tags' : header !== null ? 'header-only' : 'nothing';
  },
};
