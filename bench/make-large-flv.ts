/**
 * Build a large FLV (default 100 MB) by repeating a fixture with continuous timestamps,
 * for measuring `rinse fix` throughput. Usage: tsx bench/make-large-flv.ts <source.flv> <out.flv> [MB]
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlvHeader, encodeFlvTag } from '../src/flv/flv-writer.js';
import { TAG_SCRIPT } from '../src/media/tag-kinds.js';

export async function makeLargeFlv(source: string, out: string, megabytes = 100): Promise<number> {
  const { tags } = readFlv(readFileSync(source));
  const media = tags.filter((t) => t.tagType !== TAG_SCRIPT);
  const first = tags.find((t) => t.tagType === TAG_SCRIPT);
  const spanMs = Math.max(...media.map((t) => t.timestampMs)) + 40;
  const sink = createWriteStream(out);
  let bytes = 0;
  const write = async (b: Buffer): Promise<void> => {
    bytes += b.length;
    if (!sink.write(b)) await once(sink, 'drain');
  };
  await write(encodeFlvHeader({ hasAudio: true, hasVideo: true }));
  if (first) await write(encodeFlvTag(first));
  const headers = media.filter((t) => t.data[1] === 0);
  for (let round = 0; bytes < megabytes * 1e6; round++) {
    for (const t of media) {
      if (round > 0 && headers.includes(t)) continue; // sequence headers once
      await write(encodeFlvTag({ tagType: t.tagType, timestampMs: t.timestampMs + round * spanMs, data: t.data }));
    }
  }
  sink.end();
  await once(sink, 'finish');
  return bytes;
}

if (process.argv[1]?.endsWith('make-large-flv.ts')) {
  const [source, out, mb] = process.argv.slice(2);
  if (!source || !out) throw new Error('usage: make-large-flv.ts <source.flv> <out.flv> [MB]');
  void makeLargeFlv(source, out, mb ? Number(mb) : 100).then((b) =>
    process.stdout.write(`${out}: ${(b / 1e6).toFixed(1)} MB\n`),
  );
}
