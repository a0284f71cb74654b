import type { Interval } from '@chartwright/contracts';
import { type BarsResult, barCountFor, MAX_BARS, MAX_RANGE_BARS } from '../bars.js';

export interface BarsRequest {
  /** `EXCHANGE:TICKER`. */
  symbol: string;
  interval: Interval;
  /** chart-img.com's range preset; with `interval` it decides the number of bars. */
  range?: string;
  /** Explicit number of bars (wins over `range`), at most 1000. */
  limit?: number;
  /** The newest bar wanted opens at or before this time (ms); default: the latest bars. */
  end?: number;
  /**
   * Bars from this time (ms) on instead: the first `limit` opening at or after it (and at or
   * before `end`), e.g. the bars after a signal. `limit` may then go up to {@link MAX_RANGE_BARS}.
   */
  start?: number;
  signal?: AbortSignal;
}

/** The market-data port: the renderer and the analyst ask it for bars, oldest first. */
export interface MarketDataProvider {
  getBars(req: BarsRequest): Promise<BarsResult>;
}

/** Number of bars a request asks for. */
export function requestedBars(req: Pick<BarsRequest, 'range' | 'limit' | 'interval' | 'start'>): number {
  const max = req.start === undefined ? MAX_BARS : MAX_RANGE_BARS;
  if (req.limit !== undefined) return Math.max(1, Math.min(max, Math.floor(req.limit)));
  return barCountFor(req.range, req.interval);
}
