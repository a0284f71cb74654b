import type { Interval, Recommendation, TradingStyle } from '@chartwright/contracts';
import { type Bar, DEFAULT_BARS, seededRandom, snapshot, WARM_UP_BARS } from '@chartwright/market';
import {
  DEFAULT_HORIZONS,
  type Outcome,
  resolveOutcome,
  type Scorecard,
  scorecard,
} from '@chartwright/outcomes';
import { BuiltinAnalyst } from '../analyst/builtin.js';
import { ground } from '../analyst/grounding.js';

/** One analysis of a backtest and how it played out. */
export interface ReplayTrade {
  /** Open time of the last bar the analyst saw (ms). */
  at: number;
  recommendation: Recommendation;
  entryPrice: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  confidence: number;
  outcome: Outcome;
}

export interface ReplayResult {
  trades: ReplayTrade[];
  scorecard: Scorecard;
  /** The same number of trades at random steps, same side mix and stop/target distances. */
  random: { seed: number; scorecard: Scorecard };
  /** Close at the last step over close at the first, − 1. */
  buyAndHoldReturn: number;
  steps: number;
}

/**
 * Replays the built-in analyst over history: every `step` bars from the first bar at or after
 * `from` to the last before `to`, it reads the chart a user would have drawn then (the default
 * `DEFAULT_BARS` visible bars and their warm-up), grounds the answer as a live analysis is, and
 * follows it on the bars after with the outcome rules. `bars` is the whole series, oldest first.
 */
export async function replayBuiltin(opts: {
  bars: readonly Bar[];
  symbol: string;
  interval: Interval;
  from: number;
  to: number;
  step: number;
  tradingStyle?: TradingStyle;
  seed?: number;
  horizon?: number;
  /** Visible bars of each chart (default {@link DEFAULT_BARS}); the warm-up comes on top. */
  visible?: number;
}): Promise<ReplayResult> {
  const { bars, step } = opts;
  const style = opts.tradingStyle ?? 'swing_trading';
  const horizon = opts.horizon ?? DEFAULT_HORIZONS[style];
  const windowBars = (opts.visible ?? DEFAULT_BARS) + WARM_UP_BARS;
  const analyst = new BuiltinAnalyst();
  const indices: number[] = [];
  for (
    let i = Math.max(
      windowBars - 1,
      bars.findIndex((b) => b.time >= opts.from),
    );
    i < bars.length;
    i += step
  ) {
    if (bars[i]!.time >= opts.to) break;
    indices.push(i);
  }
  const after = (i: number) => bars.slice(i + 1, i + 1 + horizon);
  const trades: ReplayTrade[] = [];
  for (const i of indices) {
    const window = bars.slice(i + 1 - windowBars, i + 1);
    const snap = snapshot(window);
    const answer = await analyst.analyse({
      imagePath: '',
      mediaType: 'image/png',
      symbol: opts.symbol,
      interval: opts.interval,
      tradingStyle: style,
      bars: window,
      snapshot: snap,
    });
    const r = ground(answer.output, { lastPrice: snap.lastClose ?? undefined, atr: snap.atr14 ?? undefined });
    const lastClose = window[window.length - 1]!.close;
    trades.push({
      at: bars[i]!.time,
      recommendation: r.recommendation,
      entryPrice: r.entryPrice,
      stopLoss: r.stopLoss,
      takeProfit: r.takeProfit,
      confidence: r.confidence,
      outcome: resolveOutcome({ ...r, lastClose }, after(i), horizon),
    });
  }

  // The random baseline: each trade again at a random step, entering at that close, same side mix
  // (sides shuffled) and the same stop and target distances relative to the entry.
  const seed = opts.seed ?? 1;
  const rand = seededRandom(seed);
  const real = trades.filter(
    (t) => t.recommendation !== 'NEUTRAL' && t.entryPrice && t.stopLoss && t.takeProfit,
  );
  const sides = real.map((t) => t.recommendation);
  for (let k = sides.length - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    [sides[k], sides[j]] = [sides[j]!, sides[k]!];
  }
  const randomSignals = real.map((t, k) => {
    const i = indices[Math.floor(rand() * indices.length)]!;
    const entry = bars[i]!.close;
    const stopDist = Math.abs(t.entryPrice! - t.stopLoss!) / t.entryPrice!;
    const targetDist = Math.abs(t.takeProfit! - t.entryPrice!) / t.entryPrice!;
    const long = sides[k] === 'LONG';
    const o = resolveOutcome(
      {
        recommendation: sides[k]!,
        entryPrice: entry,
        stopLoss: entry * (long ? 1 - stopDist : 1 + stopDist),
        takeProfit: entry * (long ? 1 + targetDist : 1 - targetDist),
        lastClose: entry,
      },
      after(i),
      horizon,
    );
    return { recommendation: sides[k]!, confidence: t.confidence, ...o };
  });

  const first = indices[0];
  const last = indices[indices.length - 1];
  return {
    trades,
    scorecard: scorecard(
      trades.map((t) => ({ ...t.outcome, recommendation: t.recommendation, confidence: t.confidence })),
    ),
    random: { seed, scorecard: scorecard(randomSignals) },
    buyAndHoldReturn:
      first === undefined || last === undefined ? 0 : bars[last]!.close / bars[first]!.close - 1,
    steps: indices.length,
  };
}
