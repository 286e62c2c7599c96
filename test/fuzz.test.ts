/**
 * The CI-sized fuzz run (`npm run fuzz` is the full one): ten thousand inputs per parser
 * through the same runner, workers and inputs. Every input must end in a result or a coded
 * error, none may hang, the heap must come back, and each parser must have produced both
 * results and coded errors (so a target that refuses, or accepts, everything fails). A second
 * test checks that the runner does catch a hang, a plain exception and a runaway heap.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { figuresTable, findingsText, outcomesText } from '../fuzz/report.js';
import { DEFAULT_INPUT_TIMEOUT_MS, MAX_HEAP_GROWTH_BYTES, WORKER_HEAP_MB, runFuzz } from '../fuzz/runner.js';
import { SelfTestBehaviour, selfTest } from '../fuzz/self-test.js';
import { TARGETS, buildCorpus, makeInput, prepareTarget } from '../fuzz/targets.js';
import { useFixtures } from './support/fixtures.js';

const CI_INPUTS_PER_PARSER = 10_000;
/** A seed of its own: these are not the full run's first ten thousand inputs. */
const CI_SEED = 20261201;
/** Two workers: a busy 2-core machine still finishes in about half a minute. */
const CI_JOBS = 2;

const outDir = mkdtempSync(join(tmpdir(), 'rinse-fuzz-test-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function total(counts: Map<string, number>, prefix: string): number {
  let n = 0;
  for (const [key, count] of counts) if (key.startsWith(prefix)) n += count;
  return n;
}

describe('parser fuzzing', () => {
  useFixtures();

  it('ends every input of every parser in a result or a coded error, in time, with the heap back', async () => {
    const report = await runFuzz({
      parsers: TARGETS,
      perParser: CI_INPUTS_PER_PARSER,
      runSeed: CI_SEED,
      maxSeconds: 600,
      inputTimeoutMs: DEFAULT_INPUT_TIMEOUT_MS,
      maxHeapGrowthBytes: MAX_HEAP_GROWTH_BYTES,
      workerHeapMb: WORKER_HEAP_MB,
      jobs: CI_JOBS,
      outDir,
    });
    const text = `${figuresTable(report)}\n\n${outcomesText(report)}\n\n${findingsText(report)}`;
    expect(report.findings, text).toEqual([]);
    expect(report.parsers.map((p) => p.name)).toEqual(TARGETS.map((t) => t.name));
    for (const p of report.parsers) {
      expect({ parser: p.name, inputs: p.inputs, stoppedByTime: p.stoppedByTime }).toEqual({
        parser: p.name,
        inputs: CI_INPUTS_PER_PARSER,
        stoppedByTime: false,
      });
      expect(total(p.counts, 'result:'), `${p.name} results`).toBeGreaterThan(0);
      expect(total(p.counts, 'coded:'), `${p.name} coded errors`).toBeGreaterThan(0);
      expect(total(p.counts, 'result:') + total(p.counts, 'coded:'), p.name).toBe(CI_INPUTS_PER_PARSER);
      expect(p.heapGrowthBytes, `${p.name} heap growth`).toBeLessThanOrEqual(MAX_HEAP_GROWTH_BYTES);
    }
  }, 120_000);

  it('catches a hang, a plain exception and a runaway heap, and goes on after each', async () => {
    const inputs = 40;
    const prepared = prepareTarget(selfTest, buildCorpus());
    const behaviours = (seed: number): number[] =>
      Array.from({ length: inputs }, (_, i) => makeInput(prepared, seed, i).bytes[0] ?? 0);
    // The first seed whose inputs misbehave in each way exactly once.
    let runSeed = 1;
    const once = (b: number[], value: number): boolean => b.filter((v) => v === value).length === 1;
    while (!Object.values(SelfTestBehaviour).every((v) => once(behaviours(runSeed), v))) runSeed++;
    const expected = behaviours(runSeed);

    const report = await runFuzz({
      parsers: [selfTest],
      perParser: inputs,
      runSeed,
      maxSeconds: 120,
      // Long enough that filling the small heap is never taken for a hang on a busy machine.
      inputTimeoutMs: 1500,
      maxHeapGrowthBytes: MAX_HEAP_GROWTH_BYTES,
      workerHeapMb: 32,
      jobs: 1,
      outDir,
    });
    const found = report.findings.map((f) => ({ kind: f.kind, index: f.index }));
    expect(found).toEqual(
      expect.arrayContaining([
        { kind: 'hang', index: expected.indexOf(SelfTestBehaviour.HANG) },
        { kind: 'exception', index: expected.indexOf(SelfTestBehaviour.THROW) },
        { kind: 'memory', index: expected.indexOf(SelfTestBehaviour.RUNAWAY) },
      ]),
    );
    expect(found).toHaveLength(3);
    expect(report.failed).toBe(true);
    expect(report.parsers[0]?.inputs).toBe(inputs);
    expect(report.findings.every((f) => f.file !== undefined)).toBe(true);
  }, 60_000);
});
