/** CPU and memory of a process tree under test, sampled from /proc. */
import { cpuSeconds, memoryMb, processTree } from './live.js';

/**
 * Samples the CPU time and RSS of a process and its children (rinse's ffmpeg) from /proc
 * every 250 ms, so the figures survive processes that exit by themselves when their
 * publisher leaves (ffmpeg -listen). Peak RSS is the peak of the tree's summed RSS.
 */
export class ProcessSampler {
  /** Last CPU seconds seen per pid, and what each had at the start. */
  private readonly first = new Map<number, number>();
  private readonly last = new Map<number, number>();
  peakRssMb = 0;
  private readonly timer: NodeJS.Timeout;
  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 250);
  }
  private sample(): void {
    let rss = 0;
    for (const p of processTree(this.pid)) {
      const cpu = cpuSeconds(p);
      if (Number.isNaN(cpu)) continue;
      if (!this.first.has(p)) this.first.set(p, p === this.pid ? cpu : 0);
      this.last.set(p, cpu);
      const mem = memoryMb(p);
      if (!Number.isNaN(mem.rss)) rss += p === this.pid ? Math.max(mem.rss, 0) : mem.rss;
      if (p === this.pid && !Number.isNaN(mem.peak)) this.peakRssMb = Math.max(this.peakRssMb, mem.peak);
    }
    this.peakRssMb = Math.max(this.peakRssMb, rss);
  }
  get cpuSeconds(): number {
    let total = 0;
    for (const [p, cpu] of this.last) total += cpu - (this.first.get(p) ?? 0);
    return total;
  }
  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}
