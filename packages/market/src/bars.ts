import type { Interval } from '@chartwright/contracts';

/** One OHLCV bar; `time` is the bar's open time in ms since the epoch (UTC). */
export interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/** Where bars came from. `synthetic` bars are generated and must be labelled as such wherever shown. */
export interface BarsResult {
  bars: Bar[];
  /** e.g. `binance`, `file:BTCUSDT.csv`, `synthetic`. */
  source: string;
  synthetic: boolean;
  /** Why the bars may not be what was asked for: skipped rows, gaps, resampling, a fallback. */
  warnings?: string[];
}

export interface Series extends BarsResult {
  symbol: string;
  interval: Interval;
}

export const MAX_BARS = 1000;
export const DEFAULT_BARS = 300;
/** Most bars of one request that gives a `start` (a span of history, e.g. for a backtest). */
export const MAX_RANGE_BARS = 50_000;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** Months per bar for calendar intervals; other intervals have a fixed length. */
const MONTHS: Partial<Record<Interval, number>> = { '1M': 1, '3M': 3, '6M': 6, '12M': 12 };

const FIXED_MS: Partial<Record<Interval, number>> = {
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '45m': 45 * MINUTE,
  '1h': HOUR,
  '2h': 2 * HOUR,
  '3h': 3 * HOUR,
  '4h': 4 * HOUR,
  '6h': 6 * HOUR,
  '12h': 12 * HOUR,
  '1D': DAY,
  '1W': 7 * DAY,
};

export function intervalMonths(interval: Interval): number | undefined {
  return MONTHS[interval];
}

/** Nominal length of one bar in ms (a month counts as 30.44 days). */
export function intervalMs(interval: Interval): number {
  const months = MONTHS[interval];
  return months ? months * 30.44 * DAY : FIXED_MS[interval]!;
}

/** Open time of the bar containing `t`. Weeks start on Monday 00:00 UTC, as on Binance. */
export function barOpenTime(t: number, interval: Interval): number {
  const months = MONTHS[interval];
  if (months) {
    const d = new Date(t);
    const m = d.getUTCFullYear() * 12 + d.getUTCMonth();
    const start = m - (m % months);
    return Date.UTC(Math.floor(start / 12), start % 12, 1);
  }
  const ms = FIXED_MS[interval]!;
  // The epoch was a Thursday: shift so that weekly buckets begin on Mondays.
  const offset = interval === '1W' ? 4 * DAY : 0;
  return Math.floor((t - offset) / ms) * ms + offset;
}

/** Open time of the bar `n` bars after (or before, when negative) the bar opening at `open`. */
export function addBars(open: number, interval: Interval, n: number): number {
  const months = MONTHS[interval];
  if (!months) return open + n * FIXED_MS[interval]!;
  const d = new Date(open);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n * months, 1);
}

const RANGE_DAYS: Record<string, number> = {
  '1D': 1,
  '5D': 5,
  '7D': 7,
  '1M': 30,
  '3M': 91,
  '6M': 182,
  '1Y': 365,
  '5Y': 5 * 365,
};

/**
 * How many bars a chart of `range` at `interval` shows: the range's length divided by the bar length,
 * at least 2 and at most {@link MAX_BARS}. No range (or `DYNAMIC`) gives {@link DEFAULT_BARS}; `ALL`
 * gives the maximum.
 */
export function barCountFor(range: string | undefined, interval: Interval, now = Date.now()): number {
  if (!range || range === 'DYNAMIC') return DEFAULT_BARS;
  if (range === 'ALL') return MAX_BARS;
  let spanMs: number;
  if (range === 'YTD') spanMs = now - Date.UTC(new Date(now).getUTCFullYear(), 0, 1);
  else {
    const days = RANGE_DAYS[range];
    if (days === undefined) return DEFAULT_BARS;
    spanMs = days * DAY;
  }
  return Math.min(MAX_BARS, Math.max(2, Math.ceil(spanMs / intervalMs(interval))));
}

/** `BINANCE:BTCUSDT` → `{exchange: 'BINANCE', ticker: 'BTCUSDT'}`. */
export function splitSymbol(symbol: string): { exchange: string; ticker: string } {
  const i = symbol.indexOf(':');
  if (i < 0) return { exchange: '', ticker: symbol };
  return { exchange: symbol.slice(0, i), ticker: symbol.slice(i + 1) };
}
