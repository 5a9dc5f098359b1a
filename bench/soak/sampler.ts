/**
 * Samples a process's resident memory (`VmRSS` of /proc/<pid>/status) and open file descriptors
 * (entries of /proc/<pid>/fd: sockets, files, pipes) every few seconds, for the soak's chart.
 * Linux only; a process that is gone (between a restart's stop and start) gives no sample.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** One reading. */
export interface ProcessSample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly pid: number;
  readonly rssMb: number;
  readonly openFds: number;
}

/**
 * One reading of `pid`, or undefined when it cannot be read (gone, or not Linux).
 *
 * @example
 * readProcess(process.pid)?.rssMb; // e.g. 61.2
 */
export function readProcess(pid: number): { rssMb: number; openFds: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1]);
    if (!Number.isFinite(kb)) return undefined;
    return { rssMb: Math.round((kb / 1024) * 10) / 10, openFds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined;
  }
}

/** Samples the process `pid()` names every `intervalMs` until stopped; at most `maxSamples` kept. */
export class ProcessSampler {
  readonly samples: ProcessSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: () => number | undefined,
    private readonly startedAt: number,
    private readonly intervalMs: number,
    private readonly maxSamples = 10_000,
  ) {}

  /** Takes a sample now and then every interval. */
  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Takes a last sample and stops. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
  }

  private sample(): void {
    const pid = this.pid();
    if (pid === undefined || this.samples.length >= this.maxSamples) return;
    const reading = readProcess(pid);
    if (reading) this.samples.push({ t: Math.round((performance.now() - this.startedAt) / 100) / 10, pid, ...reading });
  }
}
