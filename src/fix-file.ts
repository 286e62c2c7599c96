/**
 * `rinse fix`: stream an FLV file through the fixer into a new FLV file with constant
 * memory, reporting progress and the repairs.
 *
 * Reading, fixing and writing overlap: while one 1 MiB piece is fixed, the next one is
 * being read and the output of the previous one written (one read and one write in flight
 * at most, so memory stays at a few MiB whatever the file size). Tag bodies are views of
 * the read pieces (each read gets a fresh buffer; the fixer holds frames only for its
 * reorder window), and the tags fixed from one piece go out encoded in one buffer.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { FlvReader } from './flv/flv-reader.js';
import { encodeFlvHeader, encodeFlvTags } from './flv/flv-writer.js';
import type { RepairSummary, TranscodeDecision } from './fixer/repairs.js';
import { StreamFixer, type FixerOptions, type FixerStats } from './fixer/stream-fixer.js';
import { type MediaTag } from './media/tag-kinds.js';

export interface FixProgress {
  bytesRead: number;
  totalBytes: number;
  elapsedMs: number;
}

export interface FixResult {
  input: string;
  output: string;
  bytesIn: number;
  bytesOut: number;
  elapsedMs: number;
  stats: FixerStats;
  repairs: RepairSummary;
  decision: TranscodeDecision | null;
}

/** Read size: large enough that per-chunk costs vanish, small enough to keep memory flat. */
const READ_CHUNK_BYTES = 1024 * 1024;
/** Each of the two output buffers: a read's worth of fixed tags, with room to spare. */
const OUT_BUFFER_BYTES = 2 * READ_CHUNK_BYTES;

export async function fixFile(
  input: string,
  output: string,
  options: { fixer?: Partial<FixerOptions>; onProgress?: (p: FixProgress) => void; progressEveryMs?: number } = {},
): Promise<FixResult> {
  const started = Date.now();
  const temp = `${output}.${process.pid}.partial`;
  const source = await open(input, 'r');
  let sink: FileHandle | null = null;
  let bytesOut = 0;
  let header: Buffer | null = null;
  let batch: MediaTag[] = [];
  const fixer = new StreamFixer((tag) => batch.push(tag), options.fixer);
  const reader = new FlvReader({
    views: true,
    onHeader: (h) => (header = encodeFlvHeader({ hasAudio: h.hasAudio, hasVideo: h.hasVideo })),
    onTag: (t) => fixer.push(t),
  });
  // One write in flight at most; it must end before the next starts, so output stays in order.
  // Two output buffers take turns: one being written, one being filled (no allocation per read).
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown = null;
  const outBuffers = [Buffer.allocUnsafe(OUT_BUFFER_BYTES), Buffer.allocUnsafe(OUT_BUFFER_BYTES)];
  let nextOut = 0;
  const writeOut = async (): Promise<void> => {
    if (header === null && batch.length === 0) return;
    // The buffer not in flight: its own write ended before the one in flight began.
    const into = outBuffers[nextOut] as Buffer;
    nextOut ^= 1;
    const tags = batch.length > 0 ? encodeFlvTags(batch, into) : null;
    const bytes = header === null ? (tags as Buffer) : tags === null ? header : Buffer.concat([header, tags]);
    header = null;
    batch = [];
    await writing;
    if (writeError !== null) throw writeError;
    bytesOut += bytes.length;
    writing = writeAll(sink as FileHandle, bytes).catch((err: unknown) => {
      writeError = err;
    });
  };

  let lastProgress = started;
  let next: Promise<Buffer> | null = null;
  try {
    const totalBytes = (await source.stat()).size;
    sink = await open(temp, 'w');
    const readNext = (): Promise<Buffer> =>
      source
        .read(Buffer.allocUnsafe(READ_CHUNK_BYTES), 0, READ_CHUNK_BYTES, null)
        .then((r) => r.buffer.subarray(0, r.bytesRead));
    next = readNext();
    for (;;) {
      const piece = await next;
      if (piece.length === 0) break;
      next = readNext();
      reader.push(piece);
      await writeOut();
      const now = Date.now();
      if (options.onProgress && now - lastProgress >= (options.progressEveryMs ?? 1000)) {
        lastProgress = now;
        options.onProgress({ bytesRead: reader.bytesRead, totalBytes, elapsedMs: now - started });
      }
    }
    reader.end();
    fixer.flush();
    await writeOut();
    await writing;
    if (writeError !== null) throw writeError;
    await sink.close();
    sink = null;
    await rename(temp, output);
    return {
      input,
      output,
      bytesIn: totalBytes,
      bytesOut,
      elapsedMs: Date.now() - started,
      stats: fixer.stats,
      repairs: fixer.repairs,
      decision: fixer.decision,
    };
  } catch (err) {
    await writing;
    await next?.catch(() => undefined); // a read still in flight when the input was refused
    await sink?.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw err;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/** Write all of `bytes` at the file's position (a write may take fewer bytes than given). */
async function writeAll(file: FileHandle, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const { bytesWritten } = await file.write(bytes, at, bytes.length - at);
    at += bytesWritten;
  }
}

/** The summary a person reads at the end of `rinse fix`. */
export function formatFixResult(r: FixResult): string {
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  const seconds = r.elapsedMs / 1000;
  const lines = [
    `rinse fix ${r.input} -> ${r.output}`,
    `  ${mb(r.bytesIn)} MB in, ${mb(r.bytesOut)} MB out in ${seconds.toFixed(2)} s (${seconds > 0 ? (r.bytesIn / 1e6 / seconds).toFixed(0) : '-'} MB/s)`,
    `  video frames ${r.stats.videoFramesIn} in, ${r.stats.videoFramesOut} out; audio frames ${r.stats.audioFramesIn} in, ${r.stats.audioFramesOut} out`,
  ];
  const kinds = Object.entries(r.repairs);
  if (kinds.length === 0) {
    lines.push('  repairs: none (the stream was already clean)');
  } else {
    lines.push('  repairs:');
    const width = Math.max(...kinds.map(([k]) => k.length));
    for (const [kind, v] of kinds)
      lines.push(`    ${kind.padEnd(width)}  ${String(v?.count).padStart(6)}  (largest ${v?.maxAmount})`);
  }
  lines.push(
    r.decision
      ? `  NEEDS TRANSCODE: ${r.decision.reason} (${r.decision.detail}); a remux cannot make this stream acceptable`
      : '  result: remuxed, no transcode needed',
  );
  return `${lines.join('\n')}\n`;
}
