import type { Interval } from '@chartwright/contracts';
import { addBars, type Bar, intervalMs } from '../bars.js';
import type { RawBar } from './formats.js';

/** Why a readable row was left out. */
export type SkipReason = 'non-positive' | 'high-below-low' | 'duplicate' | 'spike';

export interface Skipped {
  time: number;
  line: number;
  reason: SkipReason;
}

/** Missing bars: none between `after` and `before`, where `missing` were due. */
export interface Gap {
  after: number;
  before: number;
  missing: number;
}

export interface CleanBars {
  bars: Bar[];
  skipped: Skipped[];
  gaps: Gap[];
}

/**
 * How far outside its neighbours a bar may reach before it is taken for a bad print: the shipped
 * BTCUSDT file's oldest bar has a high of 16199.91 beside bars near 4300. Real moves of a bar
 * stay well inside 3× the neighbouring highs and lows.
 */
export const SPIKE_FACTOR = 3;

const DAY = 86_400_000;
const weekend = (t: number) => {
  const d = new Date(t).getUTCDay();
  return d === 0 || d === 6;
};

/**
 * Bars fit to draw, oldest first: rows with non-positive prices or volumes, a high below the low
 * (or not covering open and close), a time already seen (the first row in the file wins), or a
 * spike far outside both neighbours are skipped and named. Gaps are found, not filled. With
 * `interval` unknown, no gaps are looked for; `closedWeekends` (stock data) ignores gaps made only
 * of Saturdays and Sundays.
 */
export function cleanBars(
  rows: readonly RawBar[],
  interval: Interval | null,
  opts: { closedWeekends?: boolean } = {},
): CleanBars {
  const skipped: Skipped[] = [];
  const skip = (b: RawBar, reason: SkipReason) => skipped.push({ time: b.time, line: b.line, reason });

  const valid: RawBar[] = [];
  for (const b of rows) {
    if (b.open <= 0 || b.high <= 0 || b.low <= 0 || b.close <= 0 || b.volume < 0) skip(b, 'non-positive');
    else if (b.high < b.low || b.high < Math.max(b.open, b.close) || b.low > Math.min(b.open, b.close))
      skip(b, 'high-below-low');
    else valid.push(b);
  }
  // Stable: equal times keep file order, so the first row of a time is kept.
  valid.sort((a, b) => a.time - b.time || a.line - b.line);
  const unique: RawBar[] = [];
  for (const b of valid) {
    if (unique.length && unique[unique.length - 1]!.time === b.time) skip(b, 'duplicate');
    else unique.push(b);
  }

  const bars: Bar[] = [];
  for (let i = 0; i < unique.length; i++) {
    const b = unique[i]!;
    const prev = unique[i - 1];
    const next = unique[i + 1];
    const high = Math.max(prev?.high ?? 0, next?.high ?? 0);
    const low = Math.min(prev?.low ?? Number.POSITIVE_INFINITY, next?.low ?? Number.POSITIVE_INFINITY);
    const spike = (prev || next) && (b.high > SPIKE_FACTOR * high || b.low * SPIKE_FACTOR < low);
    if (spike) skip(b, 'spike');
    else
      bars.push({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close, volume: b.volume });
  }

  const gaps: Gap[] = [];
  if (interval) {
    for (let i = 1; i < bars.length; i++) {
      const after = bars[i - 1]!.time;
      const before = bars[i]!.time;
      let due = addBars(after, interval, 1);
      if (due >= before) continue;
      let missing = 0;
      let onlyWeekend = true;
      for (; due < before && missing < 1_000_000; due = addBars(due, interval, 1)) {
        missing++;
        if (!weekend(due)) onlyWeekend = false;
      }
      // Daily stock bars skip weekends by design; intraday ones skip nights too, so only
      // count intraday gaps longer than a weekend.
      if (opts.closedWeekends && (onlyWeekend || (intervalMs(interval) < DAY && before - after <= 3 * DAY)))
        continue;
      gaps.push({ after, before, missing });
    }
  }
  skipped.sort((a, b) => a.time - b.time || a.line - b.line);
  return { bars, skipped, gaps };
}
