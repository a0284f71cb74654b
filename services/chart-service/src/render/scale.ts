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

const isUtc = (timeZone: string | undefined) =>
  !timeZone || /^(etc\/)?(utc|gmt|uct|zulu|universal)$/i.test(timeZone);

/**
 * The wall-clock time in `timeZone` of each UTC time, as a UTC epoch (so `getUTCHours()` reads the
 * local hour). One formatter, asked once per distinct quarter hour: offsets never change in between.
 */
export function wallTimes(times: readonly number[], timeZone: string | undefined): number[] {
  if (isUtc(timeZone)) return [...times];
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
  });
  const offsets = new Map<number, number>();
  return times.map((t) => {
    const quarter = Math.floor(t / (15 * MIN));
    let offset = offsets.get(quarter);
    if (offset === undefined) {
      const at = quarter * 15 * MIN;
      const p: Record<string, number> = {};
      for (const part of f.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!) - at;
      offsets.set(quarter, offset);
    }
    return t + offset;
  });
}

/**
 * Time-axis ticks at round times (hours, days, months, years) for bars at `times`, spaced at least
 * `minPx` apart when the axis is `width` pixels wide. Intraday bars are labelled in `timeZone`
 * (default UTC); a daily or longer bar is a calendar day, labelled with its own date.
 */
export function timeTicks(
  utcTimes: readonly number[],
  interval: Interval,
  width: number,
  minPx = 80,
  timeZone?: string,
): TimeTick[] {
  const n = utcTimes.length;
  if (n === 0) return [];
  const times = intervalMs(interval) < DAY ? wallTimes(utcTimes, timeZone) : utcTimes;
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
