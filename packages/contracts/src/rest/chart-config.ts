import { z } from 'zod';

/**
 * Intervals: the design document's set plus chart-img.com's full list.
 * Minutes are lower-case `m`, hours `h`, days `D`, weeks `W`, months `M`.
 */
export const INTERVALS = [
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '45m',
  '1h',
  '2h',
  '3h',
  '4h',
  '6h',
  '12h',
  '1D',
  '1W',
  '1M',
  '3M',
  '6M',
  '12M',
] as const;
export const Interval = z.enum(INTERVALS);
export type Interval = z.infer<typeof Interval>;

/** Ranges accepted by `range` (chart-img.com's list). */
export const RANGES = ['1D', '5D', '7D', '1M', '3M', '6M', 'YTD', '1Y', '5Y', 'ALL', 'DYNAMIC'] as const;
export const Range = z.enum(RANGES);
export type Range = z.infer<typeof Range>;

export const Theme = z.enum(['light', 'dark']);
export type Theme = z.infer<typeof Theme>;

export const ChartStyle = z.enum(['candle', 'bar', 'line', 'area', 'hollowCandle', 'heikinAshi']);
export type ChartStyle = z.infer<typeof ChartStyle>;

export const ImageFormat = z.enum(['png', 'svg']);
export type ImageFormat = z.infer<typeof ImageFormat>;

export const Renderer = z.enum(['builtin', 'chart-img']);
export type Renderer = z.infer<typeof Renderer>;

/** `EXCHANGE:TICKER`, e.g. `BINANCE:BTCUSDT`. */
export const MarketSymbol = z
  .string()
  .max(64)
  .regex(/^[A-Z0-9_]{1,24}:[A-Z0-9._!-]{1,32}$/, 'must look like EXCHANGE:TICKER, e.g. BINANCE:BTCUSDT');

/** Whether this runtime knows `name` as an IANA time zone (`Etc/UTC`, `America/New_York`). */
function isTimeZone(name: string): boolean {
  // Offsets such as `+05:00` are accepted by newer runtimes but are not IANA names.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone for a chart's time axis; UTC when absent. */
export const TimeZone = z
  .string()
  .max(64)
  .refine(isTimeZone, 'must be an IANA time zone, e.g. Etc/UTC or America/New_York')
  .describe(
    'IANA time zone of the time axis for intraday intervals (daily and longer bars are labelled by date); default Etc/UTC',
  );

const InputValue = z.union([z.number(), z.string().max(200), z.boolean(), z.null()]);
const Inputs = z.record(z.string().max(64), InputValue);

export const Study = z.object({
  /** chart-img.com's study name, e.g. `Relative Strength Index`. */
  name: z.string().min(1).max(80),
  /** Inputs, by the design document's names (`period`, `stddev`) or chart-img.com's (`length`, `in_0`). */
  input: Inputs.optional(),
  override: z.record(z.string().max(64), z.unknown()).optional(),
});
export type Study = z.infer<typeof Study>;

export const Drawing = z.object({
  /** chart-img.com's drawing name, e.g. `Horizontal Line`. */
  name: z.string().min(1).max(80),
  input: z.record(z.string().max(64), z.unknown()),
  override: z.record(z.string().max(64), z.unknown()).optional(),
});
export type Drawing = z.infer<typeof Drawing>;

export const CompareLayout = z.enum(['overlay', 'grid']);
export type CompareLayout = z.infer<typeof CompareLayout>;

/** 2 to 4 distinct symbols drawn together (`POST /v1/charts/compare`); `symbol` is the first. */
export const CompareSpec = z.object({
  symbols: z
    .array(MarketSymbol)
    .min(2)
    .max(4)
    .refine((s) => new Set(s).size === s.length, 'must be distinct'),
  /** `overlay`: one line per symbol, as % change from the first visible bar; `grid`: a candle panel each. */
  layout: CompareLayout.default('overlay'),
});
export type CompareSpec = z.infer<typeof CompareSpec>;

export const ChartConfig = z.object({
  symbol: MarketSymbol,
  interval: Interval,
  range: Range.optional(),
  /**
   * A historical chart: its newest bar is the one opening at or before this instant (ISO 8601),
   * and an analysis of the chart reads exactly those bars. Built-in renderer only; not in the
   * future, not before the data starts.
   */
  end: z.iso.datetime({ offset: true }).optional(),
  theme: Theme.default('dark'),
  style: ChartStyle.default('candle'),
  width: z.number().int().min(400).max(2048).default(1200),
  height: z.number().int().min(300).max(1920).default(675),
  format: ImageFormat.default('png'),
  renderer: Renderer.optional(),
  /** The time axis's zone for intraday charts (daily and longer bars are labelled by date). */
  timezone: TimeZone.optional(),
  studies: z.array(Study).max(25).default([]),
  drawings: z.array(Drawing).max(50).default([]),
  /** Set on comparison charts only. */
  compare: CompareSpec.optional(),
});
/** A chart config after defaults are applied. */
export type ChartConfig = z.infer<typeof ChartConfig>;
/** A chart config as a client sends it. */
export type ChartConfigInput = z.input<typeof ChartConfig>;
