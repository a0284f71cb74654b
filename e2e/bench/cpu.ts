import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (user + system) spent by the benchmark's processes and by the shared servers, read from
 * Linux's /proc, so a benchmark can say where each request's CPU goes. Elsewhere it reports nothing.
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux

function cpuTicks(pid: number | string): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces: utime is 14th, stime 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function serverTicks(comms: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (!comms.includes(comm)) continue;
    out[comm] = (out[comm] ?? 0) + (cpuTicks(pid) ?? 0);
  }
  return out;
}

const SERVERS = ['postgres', 'nats-server', 'redis-server'] as const;

export type CpuSample = Record<string, number>;

/** Cumulative CPU ticks of each named pid and of the shared servers. */
export function sampleCpu(pids: Record<string, number | undefined>): CpuSample {
  const out: CpuSample = {};
  for (const [name, pid] of Object.entries(pids)) {
    const t = pid === undefined ? undefined : cpuTicks(pid);
    if (t !== undefined) out[name] = t;
  }
  return { ...out, ...serverTicks(SERVERS) };
}

/** "name 12.3 ms" per item of work for each process between two samples, busiest first. */
export function cpuPerItem(before: CpuSample, after: CpuSample, items: number): string {
  const rows = Object.keys(after)
    .map((name) => ({ name, ms: ((after[name]! - (before[name] ?? 0)) * TICK_MS) / Math.max(1, items) }))
    .filter((r) => r.ms > 0)
    .sort((a, b) => b.ms - a.ms);
  if (rows.length === 0) return 'not measured (no /proc)';
  const total = rows.reduce((s, r) => s + r.ms, 0);
  return `${total.toFixed(1)} ms in all: ${rows.map((r) => `${r.name} ${r.ms.toFixed(1)}`).join(', ')}`;
}
