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

/**
 * The output side: fixed tags gathered per read, encoded into one of two buffers that take
 * turns (one being written, one being filled: no allocation per read), with one write in
 * flight at most, so output stays in order.
 */
class FlvOutput {
  header: Buffer | null = null;
  batch: MediaTag[] = [];
  bytesOut = 0;
  private sink: FileHandle | null = null;
  private writing: Promise<void> = Promise.resolve();
  private writeError: unknown = null;
  private readonly buffers = [Buffer.allocUnsafe(OUT_BUFFER_BYTES), Buffer.allocUnsafe(OUT_BUFFER_BYTES)];
  private next = 0;

  constructor(private readonly temp: string) {}

  async open(): Promise<void> {
    this.sink = await open(this.temp, 'w');
  }

  /** Encode what was gathered and start writing it once the write in flight has ended. */
  async flush(): Promise<void> {
    if (this.header === null && this.batch.length === 0) return;
    // The buffer not in flight: its own write ended before the one in flight began.
    const into = this.buffers[this.next] as Buffer;
    this.next ^= 1;
    const tags = this.batch.length > 0 ? encodeFlvTags(this.batch, into) : null;
    const header = this.header;
    const bytes = header === null ? (tags as Buffer) : tags === null ? header : Buffer.concat([header, tags]);
    this.header = null;
    this.batch = [];
    await this.writing;
    if (this.writeError !== null) throw this.writeError;
    this.bytesOut += bytes.length;
    this.writing = writeAll(this.sink as FileHandle, bytes).catch((err: unknown) => {
      this.writeError = err;
    });
  }

  /** The last write ended: the file is complete under its final name. */
  async finish(output: string): Promise<void> {
    await this.flush();
    await this.writing;
    if (this.writeError !== null) throw this.writeError;
    await this.sink?.close();
    this.sink = null;
    await rename(this.temp, output);
  }

  /** After a failure: no partial file is left behind. */
  async discard(): Promise<void> {
    await this.writing;
    await this.sink?.close().catch(() => undefined);
    await rm(this.temp, { force: true });
  }
}

export async function fixFile(
  input: string,
  output: string,
  options: { fixer?: Partial<FixerOptions>; onProgress?: (p: FixProgress) => void; progressEveryMs?: number } = {},
): Promise<FixResult> {
  const started = Date.now();
  const source = await open(input, 'r');
  const out = new FlvOutput(`${output}.${process.pid}.partial`);
  const fixer = new StreamFixer((tag) => out.batch.push(tag), options.fixer);
  const reader = new FlvReader({
    views: true,
    onHeader: (h) => (out.header = encodeFlvHeader({ hasAudio: h.hasAudio, hasVideo: h.hasVideo })),
    onTag: (t) => fixer.push(t),
  });
  const pending: { read: Promise<Buffer> | null } = { read: null };
  try {
    const totalBytes = (await source.stat()).size;
    await out.open();
    let lastProgress = started;
    for await (const piece of readPieces(source, pending)) {
      reader.push(piece);
      await out.flush();
      const now = Date.now();
      if (options.onProgress && now - lastProgress >= (options.progressEveryMs ?? 1000)) {
        lastProgress = now;
        options.onProgress({ bytesRead: reader.bytesRead, totalBytes, elapsedMs: now - started });
      }
    }
    reader.end();
    fixer.flush();
    await out.finish(output);
    return {
      input,
      output,
      bytesIn: totalBytes,
      bytesOut: out.bytesOut,
      elapsedMs: Date.now() - started,
      stats: fixer.stats,
      repairs: fixer.repairs,
      decision: fixer.decision,
    };
  } catch (err) {
    await out.discard();
    await pending.read?.catch(() => undefined); // a read still in flight when the input was refused
    throw err;
  } finally {
    await source.close().catch(() => undefined);
  }
}

/**
 * The file in READ_CHUNK_BYTES pieces, the next read already in flight while a piece is
 * handled (`pending.read`, so a failure can wait for it). Each read gets a fresh buffer: tag
 * bodies are views of it.
 */
async function* readPieces(source: FileHandle, pending: { read: Promise<Buffer> | null }): AsyncGenerator<Buffer> {
  const readNext = (): Promise<Buffer> =>
    source
      .read(Buffer.allocUnsafe(READ_CHUNK_BYTES), 0, READ_CHUNK_BYTES, null)
      .then((r) => r.buffer.subarray(0, r.bytesRead));
  pending.read = readNext();
  for (;;) {
    const piece = await pending.read;
    if (piece.length === 0) return;
    pending.read = readNext();
    yield piece;
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
