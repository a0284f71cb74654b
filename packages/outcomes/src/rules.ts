import type { Recommendation, TradingStyle } from '@chartwright/contracts';

/** One bar after the signal; `time` is its open time in ms since the epoch. */
export interface OutcomeBar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

/** What an analysis said, and the close it was made at (the last bar of its window). */
export interface Signal {
  recommendation: Recommendation;
  entryPrice: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  /** Close of the last bar the analyst saw. */
  lastClose: number;
}

export type OutcomeStatus = 'open' | 'won' | 'lost' | 'expired' | 'no_trade';

export interface Outcome {
  status: OutcomeStatus;
  /** Open time of the bar the entry filled in (ms); null when it has not filled. */
  filledAt: number | null;
  /** Open time of the bar the trade ended in (ms). */
  exitAt: number | null;
  exitPrice: number | null;
  /** Result in R (multiples of the risk, entry to stop); null for no trade or an entry that never filled. */
  rMultiple: number | null;
  /** Bars from the fill to the exit, both counted (or to the last bar seen while open). */
  barsHeld: number | null;
  /** Close `horizon` bars after the signal over `lastClose`, minus 1; null until that bar exists. */
  forwardReturn: number | null;
}

/** Bars a signal is followed for, by trading style (in bars of the chart's interval). */
export const DEFAULT_HORIZONS: Readonly<Record<TradingStyle, number>> = {
  scalping: 24,
  day_trading: 48,
  swing_trading: 30,
  position_trading: 60,
};

/**
 * An entry within this fraction of the last close is "at the last close": analysts round prices to
 * about six significant digits, so an exact comparison would miss most of them.
 */
export const AT_CLOSE_TOLERANCE = 1e-5;

type Trade = { side: 'LONG' | 'SHORT'; entry: number; stop: number; target: number };

/** A LONG or SHORT with all three levels on the right sides of the entry; anything else is no trade. */
export function tradeOf(s: Signal): Trade | null {
  const { recommendation: side, entryPrice: entry, stopLoss: stop, takeProfit: target } = s;
  if (side === 'NEUTRAL' || entry === null || stop === null || target === null) return null;
  const ok = side === 'LONG' ? stop < entry && entry < target : target < entry && entry < stop;
  return ok ? { side, entry, stop, target } : null;
}

/** (exit − entry) / (entry − stop) for LONG; the mirror for SHORT. */
export function rMultiple(side: 'LONG' | 'SHORT', entry: number, stop: number, exit: number): number {
  return side === 'LONG' ? (exit - entry) / (entry - stop) : (entry - exit) / (stop - entry);
}

/**
 * Follows a signal on the bars after its window (oldest first), as far as they go:
 * - the entry fills on the first bar whose range reaches `entryPrice`; an entry at the last close
 *   fills at once (on the first bar after the window);
 * - after the fill, a bar whose high (LONG) or low (SHORT) reaches the take-profit wins, one whose
 *   low (LONG) or high (SHORT) reaches the stop loses; a bar touching both counts as the stop, and
 *   so does a stop touched on the fill bar (a target there is not counted: the bar's path is unknown,
 *   unless the entry is the last close, filled as the bar opens);
 * - a signal not finished within `horizon` bars expires; a filled one exits at that bar's close;
 * - the exit of a win or loss is at the level itself.
 * With fewer than `horizon` bars and no end yet, the outcome is `open`.
 */
export function resolveOutcome(signal: Signal, after: readonly OutcomeBar[], horizon: number): Outcome {
  const within = after.slice(0, horizon);
  const forwardBar = after.length >= horizon ? after[horizon - 1] : undefined;
  const forwardReturn = forwardBar ? forwardBar.close / signal.lastClose - 1 : null;
  const trade = tradeOf(signal);
  const base = { forwardReturn };
  if (!trade)
    return {
      ...base,
      status: 'no_trade',
      filledAt: null,
      exitAt: null,
      exitPrice: null,
      rMultiple: null,
      barsHeld: null,
    };

  const { side, entry, stop, target } = trade;
  const long = side === 'LONG';
  const atClose = Math.abs(entry - signal.lastClose) <= AT_CLOSE_TOLERANCE * signal.lastClose;
  let fill = -1;
  for (let i = 0; i < within.length; i++) {
    const bar = within[i]!;
    if (fill < 0) {
      if (!(atClose || (bar.low <= entry && entry <= bar.high))) continue;
      fill = i;
    }
    const stopHit = long ? bar.low <= stop : bar.high >= stop;
    const targetHit = long ? bar.high >= target : bar.low <= target;
    // A fill bar that only opened the trade (entry at the close fills before the bar trades) counts its target.
    const targetCounts = i > fill || atClose;
    if (stopHit || (targetHit && targetCounts)) {
      const exit = stopHit ? stop : target;
      return {
        ...base,
        status: stopHit ? 'lost' : 'won',
        filledAt: within[fill]!.time,
        exitAt: bar.time,
        exitPrice: exit,
        rMultiple: rMultiple(side, entry, stop, exit),
        barsHeld: i - fill + 1,
      };
    }
  }
  const last = within[within.length - 1];
  if (within.length < horizon || !last)
    return {
      ...base,
      status: 'open',
      filledAt: fill >= 0 ? within[fill]!.time : null,
      exitAt: null,
      exitPrice: null,
      rMultiple: null,
      barsHeld: fill >= 0 ? within.length - fill : null,
    };
  if (fill < 0)
    return {
      ...base,
      status: 'expired',
      filledAt: null,
      exitAt: last.time,
      exitPrice: null,
      rMultiple: null,
      barsHeld: null,
    };
  return {
    ...base,
    status: 'expired',
    filledAt: within[fill]!.time,
    exitAt: last.time,
    exitPrice: last.close,
    rMultiple: rMultiple(side, entry, stop, last.close),
    barsHeld: within.length - fill,
  };
}
