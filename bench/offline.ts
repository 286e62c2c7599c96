/**
 * Offline throughput (run by bench/run.ts in a process of its own; prints JSON):
 * `rinse fix` file to file (FIX_RUNS runs in this process, and the command end to end), the
 * FLV reader and the chunk parser in memory, each the median of FIX_RUNS runs. The input is
 * the bench source repeated to `megabytes`.
 *
 *   tsx bench/offline.ts <source.flv> [megabytes=100]
 */
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ChunkParser } from '../src/rtmp/chunk-parser.js';
import { ChunkWriter } from '../src/rtmp/chunk-writer.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { setChunkSizeMessage } from '../src/rtmp/control-messages.js';
import { FlvReader } from '../src/flv/flv-reader.js';
import { TAG_AUDIO, TAG_VIDEO } from '../src/media/tag-kinds.js';
import { fixFile } from '../src/fix-file.js';
import { runTool } from '../src/tools/run-tool.js';
import { BIN, BIN_NODE_FLAGS } from './live.js';
import { makeLargeFlv } from './make-large-flv.js';

export interface OfflineResult {
  fileMB: number;
  /** Median of the runs, file to file in one process. */
  fixMBps: number;
  fixFirstRunMBps: number;
  fixRunsMBps: number[];
  /** `rinse fix` as a command, process start to exit. */
  fixCliMBps: number;
  flvReaderMBps: number;
  chunkParserMBps: number;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const log = (line: string): boolean => process.stderr.write(`bench: ${line}\n`);

/** Runs per offline figure: the first ones pay for JIT warm-up (all are reported); the figure judged is their median. */
export const FIX_RUNS = 5;

export async function offline(sourceFile: string, megabytes: number): Promise<OfflineResult> {
  const dir = join(tmpdir(), `rinse-bench-offline-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const big = join(dir, 'big.flv');
  await makeLargeFlv(sourceFile, big, megabytes);
  const size = statSync(big).size;
  try {
    // File to file, as `rinse fix` does it, in this process: each run to a new file.
    const fixRunsMBps: number[] = [];
    for (let run = 0; run < FIX_RUNS; run++) {
      const out = join(dir, `fixed-${run}.flv`);
      const fixStart = performance.now();
      await fixFile(big, out);
      fixRunsMBps.push(size / 1e6 / ((performance.now() - fixStart) / 1000));
      rmSync(out, { force: true });
    }
    const fixMBps = median(fixRunsMBps);
    const fixFirstRunMBps = fixRunsMBps[0] as number;
    // And the command itself, end to end (process start, module loading and exit included).
    const cliStart = performance.now();
    const cli = await runTool(
      process.execPath,
      [...BIN_NODE_FLAGS, BIN, 'fix', big, join(dir, 'fixed-cli.flv')],
      120_000,
    );
    if (cli.code !== 0) throw new Error(`rinse fix failed: ${cli.stderr.toString()}`);
    const fixCliMBps = size / 1e6 / ((performance.now() - cliStart) / 1000);

    const bytes = readFileSync(big);
    let tags = 0;
    const readerRuns: number[] = [];
    for (let run = 0; run < FIX_RUNS; run++) {
      tags = 0;
      const readerStart = performance.now();
      const reader = new FlvReader({ onTag: () => tags++ });
      for (let o = 0; o < bytes.length; o += 1 << 20) reader.push(bytes.subarray(o, o + (1 << 20)));
      reader.end();
      readerRuns.push(size / 1e6 / ((performance.now() - readerStart) / 1000));
    }
    const flvReaderMBps = median(readerRuns);

    // The same media as an RTMP chunk stream (4096-byte chunks), parsed in 64 KiB reads.
    const writer = new ChunkWriter();
    writer.chunkSize = 4096;
    const pieces: Buffer[] = [];
    const all = new FlvReader({
      onTag: (t) => {
        if (t.tagType === TAG_AUDIO || t.tagType === TAG_VIDEO)
          pieces.push(
            writer.write(t.tagType === TAG_AUDIO ? 4 : 6, {
              typeId: t.tagType === TAG_AUDIO ? MessageType.AUDIO : MessageType.VIDEO,
              streamId: 1,
              timestampMs: t.timestampMs,
              payload: t.data,
            }),
          );
      },
    });
    all.push(bytes);
    all.end();
    const stream = Buffer.concat(pieces);
    let messages = 0;
    const parserRuns: number[] = [];
    for (let run = 0; run < FIX_RUNS; run++) {
      messages = 0;
      const parser = new ChunkParser({ onMessage: () => messages++, limits: { maxChunkSize: 1 << 20 } });
      parser.push(new ChunkWriter().write(2, setChunkSizeMessage(4096)));
      const parserStart = performance.now();
      for (let o = 0; o < stream.length; o += 65536) parser.push(stream.subarray(o, o + 65536));
      parserRuns.push(stream.length / 1e6 / ((performance.now() - parserStart) / 1000));
    }
    const chunkParserMBps = median(parserRuns);
    log(
      `offline: fix ${fixMBps.toFixed(0)} MB/s (runs ${fixRunsMBps.map((v) => v.toFixed(0)).join(', ')}; \`rinse fix\` end to end ${fixCliMBps.toFixed(0)}), FLV reader ${flvReaderMBps.toFixed(0)} MB/s (${tags} tags), chunk parser ${chunkParserMBps.toFixed(0)} MB/s (${messages} messages)`,
    );
    return { fixMBps, fixFirstRunMBps, fixRunsMBps, fixCliMBps, flvReaderMBps, chunkParserMBps, fileMB: size / 1e6 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('offline.ts')) {
  const [source, mb] = process.argv.slice(2);
  if (!source) throw new Error('usage: offline.ts <source.flv> [megabytes]');
  void offline(source, mb ? Number(mb) : 100).then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
}
