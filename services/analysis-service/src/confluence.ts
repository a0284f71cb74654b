import type { AnalysisStatus, Confluence, Interval, Recommendation } from '@chartwright/contracts';
import { intervalMs } from '@chartwright/market';

/** One interval's analysis as the confluence reads it; the levels are null unless completed. */
export interface TimeframeReading {
  interval: Interval;
  status: AnalysisStatus;
  recommendation: Recommendation | null;
  entryPrice: number | null;
  stopLoss: number | null;
  takeProfit: number | null;
  riskRewardRatio: number | null;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

const list = (xs: readonly string[]) =>
  xs.length <= 1 ? (xs[0] ?? '') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`;

/**
 * How the intervals of a run agree. The lowest interval sets the direction; `agreement` is the
 * share of all intervals whose completed analysis reads the same. Its entry, stop and target are
 * given only when every higher interval agrees with a LONG or SHORT; otherwise the answer is
 * NEUTRAL with null levels (a failed interval counts as not agreeing).
 */
export function confluence(readings: readonly TimeframeReading[]): Confluence {
  const sorted = [...readings].sort((a, b) => intervalMs(a.interval) - intervalMs(b.interval));
  const lowest = sorted[0];
  const none = {
    entryPrice: null,
    stopLoss: null,
    takeProfit: null,
    riskRewardRatio: null,
  };
  if (lowest?.status !== 'completed' || !lowest.recommendation) {
    return {
      recommendation: 'NEUTRAL',
      agreement: 0,
      alignedIntervals: [],
      summary: `The lowest interval${lowest ? ` (${lowest.interval})` : ''} has no completed analysis, so it sets no direction: NEUTRAL.`,
      ...none,
    };
  }
  const direction = lowest.recommendation;
  const aligned = sorted.filter((r) => r.status === 'completed' && r.recommendation === direction);
  const others = sorted.filter((r) => !aligned.includes(r));
  const agreement = round4(aligned.length / sorted.length);
  const all = others.length === 0;
  const reads = (r: TimeframeReading) =>
    r.status === 'completed' ? `${r.interval} reads ${r.recommendation}` : `${r.interval} ${r.status}`;
  const agreeing = `${aligned.length} of ${sorted.length} intervals agree with the lowest (${lowest.interval}) on ${direction}`;

  if (all && direction !== 'NEUTRAL') {
    return {
      recommendation: direction,
      agreement,
      alignedIntervals: aligned.map((r) => r.interval),
      summary:
        `All ${sorted.length} intervals (${list(aligned.map((r) => r.interval))}) read ${direction}: ` +
        `the ${lowest.interval} levels apply, entry ${lowest.entryPrice}, stop ${lowest.stopLoss}, target ${lowest.takeProfit}.`,
      entryPrice: lowest.entryPrice,
      stopLoss: lowest.stopLoss,
      takeProfit: lowest.takeProfit,
      riskRewardRatio: lowest.riskRewardRatio,
    };
  }
  const summary = all
    ? `All ${sorted.length} intervals read NEUTRAL: no trade.`
    : `${agreeing}; ${list(others.map(reads))}. The intervals do not all agree: NEUTRAL, no levels.`;
  return {
    recommendation: 'NEUTRAL',
    agreement,
    alignedIntervals: aligned.map((r) => r.interval),
    summary,
    ...none,
  };
}
