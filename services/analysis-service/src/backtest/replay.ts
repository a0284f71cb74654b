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
import type { Analyst, AnalystInput } from '../analyst/types.js';
import { readingsOf } from '../market.js';

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

/** Bars each historical chart holds: the visible ones and their warm-up. */
export const windowBarsFor = (visible = DEFAULT_BARS) => visible + WARM_UP_BARS;

/**
 * The bar indices a backtest analyses: every `step` bars from the first bar at or after `from`
 * (but not before a full window exists) to the last before `to`. `bars` is oldest first.
 */
export function stepIndices(
  bars: readonly Bar[],
  q: { from: number; to: number; step: number; windowBars: number },
): number[] {
  const indices: number[] = [];
  const first = bars.findIndex((b) => b.time >= q.from);
  if (first < 0) return indices;
  for (let i = Math.max(q.windowBars - 1, first); i < bars.length; i += q.step) {
    if (bars[i]!.time >= q.to) break;
    indices.push(i);
  }
  return indices;
}

/** What one step needs besides the bars: the analyst and what it is told. */
export interface StepSetup {
  analyst: Analyst;
  symbol: string;
  interval: Interval;
  tradingStyle: TradingStyle;
  horizon: number;
  windowBars: number;
  userPrompt?: string | undefined;
  /** The chart image for an analyst that reads images; the built-in analyst needs none. */
  image?: (window: readonly Bar[]) => Promise<Pick<AnalystInput, 'imagePath' | 'mediaType'>>;
  signal?: AbortSignal;
}

/**
 * One step: the chart a user would have drawn at bar `i` (the window ending there), read by the
 * analyst, grounded as a live analysis is, and followed on the bars after with the outcome rules.
 */
export async function replayStep(bars: readonly Bar[], i: number, s: StepSetup): Promise<ReplayTrade> {
  const window = bars.slice(Math.max(0, i + 1 - s.windowBars), i + 1);
  const snap = snapshot(window);
  const image = s.image ? await s.image(window) : { imagePath: '', mediaType: 'image/png' as const };
  const answer = await s.analyst.analyse(
    {
      ...image,
      symbol: s.symbol,
      interval: s.interval,
      tradingStyle: s.tradingStyle,
      userPrompt: s.userPrompt,
      bars: window,
      snapshot: snap,
      // What a model is told besides the image (the built-in analyst reads the bars).
      ...(s.image
        ? {
            readings: readingsOf(snap),
            recentBars: window.slice(-20),
            lastPrice: snap.lastClose ?? undefined,
          }
        : {}),
    },
    s.signal,
  );
  const r = ground(answer.output, { lastPrice: snap.lastClose ?? undefined, atr: snap.atr14 ?? undefined });
  const lastClose = window[window.length - 1]!.close;
  return {
    at: bars[i]!.time,
    recommendation: r.recommendation,
    entryPrice: r.entryPrice,
    stopLoss: r.stopLoss,
    takeProfit: r.takeProfit,
    confidence: r.confidence,
    outcome: resolveOutcome({ ...r, lastClose }, bars.slice(i + 1, i + 1 + s.horizon), s.horizon),
  };
}

/** The scorecard of a backtest's trades (packages/outcomes). */
export const scorecardOf = (trades: readonly ReplayTrade[]): Scorecard =>
  scorecard(
    trades.map((t) => ({ ...t.outcome, recommendation: t.recommendation, confidence: t.confidence })),
  );

/**
 * The baselines on the same windows: buy-and-hold from the first step's close to the last's, and
 * each real trade again at a random step, entering at that close, same side mix (sides shuffled)
 * and the same stop and target distances relative to the entry. Seeded: the same seed, the same baseline.
 */
export function baselines(
  bars: readonly Bar[],
  indices: readonly number[],
  trades: readonly ReplayTrade[],
  seed: number,
  horizon: number,
): Pick<ReplayResult, 'random' | 'buyAndHoldReturn'> {
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
      bars.slice(i + 1, i + 1 + horizon),
      horizon,
    );
    return { recommendation: sides[k]!, confidence: t.confidence, ...o };
  });
  const first = indices[0];
  const last = indices[indices.length - 1];
  return {
    random: { seed, scorecard: scorecard(randomSignals) },
    buyAndHoldReturn:
      first === undefined || last === undefined ? 0 : bars[last]!.close / bars[first]!.close - 1,
  };
}

/**
 * Replays the built-in analyst over history in process (the benchmark, and what a REST backtest
 * with the same parameters must give): each step of {@link stepIndices} through {@link replayStep},
 * then the scorecard and {@link baselines}. `bars` is the whole series, oldest first.
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
  const { bars } = opts;
  const tradingStyle = opts.tradingStyle ?? 'swing_trading';
  const horizon = opts.horizon ?? DEFAULT_HORIZONS[tradingStyle];
  const windowBars = windowBarsFor(opts.visible);
  const indices = stepIndices(bars, { from: opts.from, to: opts.to, step: opts.step, windowBars });
  const setup: StepSetup = {
    analyst: new BuiltinAnalyst(),
    symbol: opts.symbol,
    interval: opts.interval,
    tradingStyle,
    horizon,
    windowBars,
  };
  const trades: ReplayTrade[] = [];
  for (const i of indices) trades.push(await replayStep(bars, i, setup));
  return {
    trades,
    scorecard: scorecardOf(trades),
    ...baselines(bars, indices, trades, opts.seed ?? 1, horizon),
    steps: indices.length,
  };
}
