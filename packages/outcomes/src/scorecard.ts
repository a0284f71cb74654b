import type { Recommendation } from '@chartwright/contracts';
import type { OutcomeStatus } from './rules.js';

/** One followed analysis, as the scorecard reads it. */
export interface ScoredSignal {
  recommendation: Recommendation;
  /** 1..10. */
  confidence: number;
  status: OutcomeStatus;
  rMultiple: number | null;
  forwardReturn: number | null;
  /** When the trade ended (ms), for the equity curve's order; null while open. */
  exitAt: number | null;
}

export interface CalibrationBucket {
  confidenceMin: number;
  confidenceMax: number;
  /** Won and lost trades in the bucket. */
  n: number;
  winRate: number | null;
}

export interface Scorecard {
  signals: number;
  resolved: number;
  open: number;
  wins: number;
  losses: number;
  expired: number;
  noTrade: number;
  winRate: number | null;
  avgR: number | null;
  expectancy: number | null;
  profitFactor: number | null;
  maxDrawdownR: number;
  longShare: number | null;
  calibration: CalibrationBucket[];
  brierScore: number | null;
  directionAccuracy: number | null;
}

/** Confidence buckets of the calibration table. */
export const CALIBRATION_BUCKETS: readonly (readonly [number, number])[] = [
  [1, 2],
  [3, 4],
  [5, 6],
  [7, 8],
  [9, 10],
];

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : null);

/** Cumulative R in exit order, and its largest fall from a peak (0 when it never falls). */
export function equityCurve(signals: readonly ScoredSignal[]): { at: number; r: number; equity: number }[] {
  const trades = signals
    .filter((s) => s.rMultiple !== null && s.exitAt !== null && s.status !== 'open')
    .sort((a, b) => a.exitAt! - b.exitAt!);
  let equity = 0;
  return trades.map((t) => {
    equity += t.rMultiple!;
    return { at: t.exitAt!, r: t.rMultiple!, equity };
  });
}

export function maxDrawdown(equity: readonly number[]): number {
  let peak = 0;
  let worst = 0;
  for (const e of equity) {
    peak = Math.max(peak, e);
    worst = Math.max(worst, peak - e);
  }
  return worst;
}

/**
 * The numbers of a scorecard, which agree with each other by construction:
 * - `resolved` = every signal not `open`; wins + losses + expired = resolved − noTrade;
 * - `winRate` = wins / (wins + losses);
 * - `avgR` = the mean `rMultiple` of the resolved trades that have one (wins, losses, and expired
 *   trades that filled); an entry that never filled has no R;
 * - `expectancy` = the R earned per resolved LONG/SHORT signal (an unfilled one earns 0);
 * - `profitFactor` = the sum of positive R over the sum of negative R (null without losses);
 * - `maxDrawdownR` = the largest fall of cumulative R, trades in exit order;
 * - `longShare` = LONG signals over LONG + SHORT signals;
 * - `calibration` and `brierScore` read confidence/10 as the win probability of won and lost trades;
 * - `directionAccuracy` = LONG/SHORT signals whose forward return has their sign, over those whose
 *   forward return is known and not zero.
 */
export function scorecard(signals: readonly ScoredSignal[]): Scorecard {
  const count = (st: OutcomeStatus) => signals.filter((s) => s.status === st).length;
  const wins = count('won');
  const losses = count('lost');
  const expired = count('expired');
  const noTrade = count('no_trade');
  const open = count('open');
  const resolvedTrades = signals.filter(
    (s) => s.status === 'won' || s.status === 'lost' || s.status === 'expired',
  );
  const rs = resolvedTrades.flatMap((s) => (s.rMultiple === null ? [] : [s.rMultiple]));
  const gains = rs.filter((r) => r > 0).reduce((a, r) => a + r, 0);
  const pains = -rs.filter((r) => r < 0).reduce((a, r) => a + r, 0);
  const directional = signals.filter((s) => s.recommendation !== 'NEUTRAL');
  const decided = signals.filter((s) => s.status === 'won' || s.status === 'lost');
  const judged = directional.filter((s) => s.forwardReturn !== null && s.forwardReturn !== 0);
  const right = judged.filter((s) => (s.recommendation === 'LONG') === s.forwardReturn! > 0).length;
  return {
    signals: signals.length,
    resolved: signals.length - open,
    open,
    wins,
    losses,
    expired,
    noTrade,
    winRate: ratio(wins, wins + losses),
    avgR: mean(rs),
    expectancy: resolvedTrades.length ? rs.reduce((a, r) => a + r, 0) / resolvedTrades.length : null,
    profitFactor: pains > 0 ? gains / pains : null,
    maxDrawdownR: maxDrawdown(equityCurve(signals).map((p) => p.equity)),
    longShare: ratio(directional.filter((s) => s.recommendation === 'LONG').length, directional.length),
    calibration: CALIBRATION_BUCKETS.map(([lo, hi]) => {
      const inBucket = decided.filter((s) => s.confidence >= lo && s.confidence <= hi);
      return {
        confidenceMin: lo,
        confidenceMax: hi,
        n: inBucket.length,
        winRate: ratio(inBucket.filter((s) => s.status === 'won').length, inBucket.length),
      };
    }),
    brierScore: mean(decided.map((s) => (s.confidence / 10 - (s.status === 'won' ? 1 : 0)) ** 2)),
    directionAccuracy: ratio(right, judged.length),
  };
}
