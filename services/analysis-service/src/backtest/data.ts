import { type BacktestAnalyst, type Interval, MAX_BACKTEST_STEPS } from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import { type Bar, intervalMs, MAX_RANGE_BARS, type MarketData, MarketDataError } from '@chartwright/market';
import { stepIndices } from './replay.js';

/** Bars loaded before the first window beyond its size: room for gaps in the data. */
const SLACK_BARS = 50;
/** Most bars one backtest loads (a few MB of memory). */
const MAX_SPAN_BARS = 400_000;

export interface Span {
  symbol: string;
  interval: Interval;
  from: number;
  to: number;
  step: number;
  windowBars: number;
  horizon: number;
}

const invalid = (field: string, message: string) =>
  new ServiceError('VALIDATION_ERROR', message, [{ field, message }]);

/** A market-data failure as the error a caller sees (400 naming the field for their mistakes). */
export function marketError(err: unknown): unknown {
  if (!(err instanceof MarketDataError)) return err;
  switch (err.code) {
    case 'UNKNOWN_SYMBOL':
      return invalid('symbol', err.message);
    case 'UNSUPPORTED_INTERVAL':
      return invalid('interval', err.message);
    case 'INVALID_REQUEST':
      return invalid(err.field ?? 'symbol', err.message);
    case 'RATE_LIMITED':
      return new ServiceError(
        'RATE_LIMIT_EXCEEDED',
        `The market data provider is rate limiting: ${err.message}`,
      );
    default:
      return new ServiceError('UPSTREAM_ERROR', `Market data: ${err.message}`);
  }
}

/**
 * Every bar a backtest reads, oldest first: the first window's history before `from`, the steps,
 * and the outcome horizon after `to`, in pages of {@link MAX_RANGE_BARS}.
 */
export async function loadSpan(market: MarketData, s: Span, signal?: AbortSignal): Promise<Bar[]> {
  const iv = intervalMs(s.interval);
  const start = s.from - (s.windowBars + SLACK_BARS) * iv;
  const end = s.to + (s.horizon + 1) * iv;
  const bars: Bar[] = [];
  let cursor = start;
  for (;;) {
    const page = await market.history(
      { symbol: s.symbol, interval: s.interval, start: cursor, end, limit: MAX_RANGE_BARS },
      signal,
    );
    for (const b of page.bars) if (bars.length === 0 || b.time > bars[bars.length - 1]!.time) bars.push(b);
    if (page.bars.length < MAX_RANGE_BARS || bars.length === 0) break;
    cursor = bars[bars.length - 1]!.time + 1;
  }
  return bars;
}

/**
 * Checks a backtest's span before it is queued: `to` after `from` and not in the future, data for
 * the whole span (a full chart before `from`, bars up to `to`) and the steps within the analyst's
 * bound. Answers the bars and the step indices; throws VALIDATION_ERROR naming the field.
 */
export async function checkSpan(
  market: MarketData,
  s: Span & { analyst: BacktestAnalyst },
  now: number,
): Promise<{ bars: Bar[]; indices: number[] }> {
  if (s.to <= s.from) throw invalid('to', 'to must be after from');
  if (s.to > now) throw invalid('to', `to (${new Date(s.to).toISOString()}) is in the future`);
  const max = MAX_BACKTEST_STEPS[s.analyst];
  const iv = intervalMs(s.interval);
  const tooMany = (n: number) =>
    invalid('step', `${n} steps: at most ${max} with the ${s.analyst} analyst; raise step or narrow from/to`);
  // Before any data is read: a span far over the bound is refused as is.
  const estimate = Math.ceil((s.to - s.from) / iv / s.step);
  if (estimate > max * 1.2 + 10) throw tooMany(estimate);
  if ((s.to - s.from) / iv > MAX_SPAN_BARS)
    throw invalid('from', `from..to spans more than ${MAX_SPAN_BARS} bars`);
  const bars = await loadSpan(market, s).catch((err) => {
    throw marketError(err);
  });
  const first = bars.findIndex((b) => b.time >= s.from);
  if (bars.length === 0 || first < 0 || bars[first]!.time >= s.to)
    throw invalid('from', `there are no ${s.symbol} ${s.interval} bars between from and to`);
  if (first < s.windowBars - 1)
    throw invalid(
      'from',
      `the ${s.symbol} ${s.interval} data starts too late: the first chart needs ${s.windowBars} bars up to from; start from ${new Date(bars[Math.min(bars.length - 1, s.windowBars - 1)]!.time).toISOString()} or later`,
    );
  const last = bars[bars.length - 1]!.time;
  if (last + iv < s.to)
    throw invalid('to', `the ${s.symbol} ${s.interval} data ends at ${new Date(last).toISOString()}`);
  const indices = stepIndices(bars, s);
  if (indices.length > max) throw tooMany(indices.length);
  return { bars, indices };
}
