import type { Interval } from '@chartwright/contracts';
import { intervalMonths, intervalMs } from '@chartwright/market';

/** "Nice" axis ticks (1, 2, 2.5, 5 × 10ⁿ) covering [min, max] with about `count` steps. */
export function niceTicks(min: number, max: number, count: number): { ticks: number[]; step: number } {
  if (!(max > min)) return { ticks: [min], step: 1 };
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  const decimals = stepDecimals(step);
  for (let k = Math.ceil(min / step); k * step <= max + step * 1e-9; k++) {
    ticks.push(Number((k * step).toFixed(decimals)));
  }
  return { ticks, step };
}

/** Decimals needed to print ticks spaced by `step`. */
export function stepDecimals(step: number): number {
  for (let d = 0; d <= 10; d++) {
    const scaled = step * 10 ** d;
    if (Math.abs(Math.round(scaled) - scaled) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 10;
}

export interface TimeTick {
  index: number;
  label: string;
  /** 3 a new year, 2 a new month, 1 a new day on an intraday axis, 0 a regular tick. */
  rank: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** Candidate tick spacings: fixed lengths, then calendar months. */
const FIXED_STEPS = [
  MIN,
  5 * MIN,
  15 * MIN,
  30 * MIN,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
];
const MONTH_STEPS = [1, 3, 6, 12, 24, 60];

/**
 * Time-axis ticks at round times (hours, days, months, years, in UTC) for bars at `times`, spaced at
 * least `minPx` apart when the axis is `width` pixels wide.
 */
export function timeTicks(
  times: readonly number[],
  interval: Interval,
  width: number,
  minPx = 80,
): TimeTick[] {
  const n = times.length;
  if (n === 0) return [];
  const span = intervalMs(interval) * n;
  const maxTicks = Math.max(2, Math.floor(width / minPx));
  const barMs = intervalMonths(interval) ? Number.POSITIVE_INFINITY : intervalMs(interval);
  const fixed = FIXED_STEPS.find((s) => s >= barMs && span / s <= maxTicks);
  const months =
    fixed === undefined
      ? (MONTH_STEPS.find(
          (m) => m >= (intervalMonths(interval) ?? 0) && span / (m * 30.44 * DAY) <= maxTicks,
        ) ?? 120)
      : 0;

  const bucket = (t: number): number => {
    if (fixed !== undefined)
      return fixed === 7 * DAY || fixed === 14 * DAY
        ? Math.floor((t - 4 * DAY) / fixed)
        : Math.floor(t / fixed);
    const d = new Date(t);
    return Math.floor((d.getUTCFullYear() * 12 + d.getUTCMonth()) / months);
  };

  const ticks: TimeTick[] = [];
  const intraday = fixed !== undefined && fixed < DAY;
  let prev = bucket(times[0]!);
  for (let i = 1; i < n; i++) {
    const b = bucket(times[i]!);
    const changed = b !== prev;
    prev = b;
    const d = new Date(times[i]!);
    const dp = new Date(times[i - 1]!);
    const newYear = d.getUTCFullYear() !== dp.getUTCFullYear();
    const newMonth = newYear || d.getUTCMonth() !== dp.getUTCMonth();
    const newDay = newMonth || d.getUTCDate() !== dp.getUTCDate();
    const rank = newYear ? 3 : newMonth ? 2 : intraday && newDay ? 1 : 0;
    // Calendar boundaries get a tick even between regular ones (a month start on a weekly grid).
    const boundary = fixed !== undefined && (rank >= 2 || (intraday && rank === 1));
    if (!changed && !boundary) continue;
    let label: string;
    if (rank === 3) label = String(d.getUTCFullYear());
    else if (rank === 2 && !intraday) label = MONTHS[d.getUTCMonth()]!;
    else if (intraday && rank >= 1) label = `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]}`;
    else if (intraday) {
      label = `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
    } else if (fixed === undefined) label = MONTHS[d.getUTCMonth()]!;
    else label = String(d.getUTCDate());
    ticks.push({ index: i, label, rank });
  }
  return ticks;
}
