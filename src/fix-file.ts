/**
 * `rinse fix`: stream an FLV file through the fixer into a new FLV file with constant
 * memory (1 MiB reads, one write per read, waiting for the disk), reporting progress and the repairs.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { FlvReader } from './flv/flv-reader.js';
import { encodeFlvHeader, encodeFlvTag } from './flv/flv-writer.js';
import type { RepairSummary, TranscodeDecision } from './fixer/repairs.js';
import { StreamFixer, type FixerOptions, type FixerStats } from './fixer/stream-fixer.js';

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

export async function fixFile(
  input: string,
  output: string,
  options: { fixer?: Partial<FixerOptions>; onProgress?: (p: FixProgress) => void; progressEveryMs?: number } = {},
): Promise<FixResult> {
  const totalBytes = statSync(input).size;
  const started = Date.now();
  const temp = `${output}.${process.pid}.partial`;
  const sink = createWriteStream(temp);
  let bytesOut = 0;
  // Tags written while one input chunk is processed go to disk in one write.
  let batch: Buffer[] = [];
  const write = (b: Buffer): void => {
    bytesOut += b.length;
    batch.push(b);
  };
  const flushBatch = (): boolean => {
    if (batch.length === 0) return true;
    const ok = sink.write(batch.length === 1 ? (batch[0] as Buffer) : Buffer.concat(batch));
    batch = [];
    return ok;
  };
  const fixer = new StreamFixer((tag) => write(encodeFlvTag(tag)), options.fixer);
  const reader = new FlvReader({
    onHeader: (h) => write(encodeFlvHeader({ hasAudio: h.hasAudio, hasVideo: h.hasVideo })),
    onTag: (t) => fixer.push(t),
  });
  let lastProgress = started;
  try {
    for await (const chunk of createReadStream(input, { highWaterMark: READ_CHUNK_BYTES })) {
      reader.push(chunk as Buffer);
      if (!flushBatch()) await once(sink, 'drain');
      const now = Date.now();
      if (options.onProgress && now - lastProgress >= (options.progressEveryMs ?? 1000)) {
        lastProgress = now;
        options.onProgress({ bytesRead: reader.bytesRead, totalBytes, elapsedMs: now - started });
      }
    }
    reader.end();
    fixer.flush();
    flushBatch();
    sink.end();
    await once(sink, 'finish');
    renameSync(temp, output);
  } catch (err) {
    sink.destroy();
    rmSync(temp, { force: true });
    throw err;
  }
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
    for (const [kind, v] of kinds) lines.push(`    ${kind.padEnd(width)}  ${String(v?.count).padStart(6)}  (largest ${v?.maxAmount})`);
  }
  lines.push(
    r.decision
      ? `  NEEDS TRANSCODE: ${r.decision.reason} (${r.decision.detail}); a remux cannot make this stream acceptable`
      : '  result: remuxed, no transcode needed',
  );
  return `${lines.join('\n')}\n`;
}
