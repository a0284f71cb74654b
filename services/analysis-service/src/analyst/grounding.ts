import type { AnalysisResult, AnalystOutput, KeyLevels } from '@chartwright/contracts';

export interface GroundingContext {
  /** The last close the chart was drawn with; without it the entry distance cannot be checked. */
  lastPrice: number | null | undefined;
  /** 1..10; a LONG or SHORT below it becomes NEUTRAL. */
  confidenceThreshold?: number | undefined;
  /** Average true range of the chart's bars; scales the allowed entry distance. */
  atr?: number | undefined;
  /** Largest entry distance from the last price in ATRs, when `atr` is known (default 5). */
  maxEntryAtr?: number | undefined;
  /** Largest entry distance as a fraction of the last price, without `atr` (default 0.1). */
  maxEntryFraction?: number | undefined;
}

const positive = (n: number | null | undefined): n is number =>
  typeof n === 'number' && Number.isFinite(n) && n > 0;

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Ascending, without duplicates (equal to 10 significant digits) or non-positive prices. */
function cleanLevels(levels: readonly number[]): number[] {
  const seen = new Set<number>();
  for (const level of levels) {
    if (positive(level)) seen.add(Number.parseFloat(level.toPrecision(10)));
  }
  return [...seen].sort((a, b) => a - b);
}

function sortedKeyLevels(levels: KeyLevels): KeyLevels {
  return { support: cleanLevels(levels.support), resistance: cleanLevels(levels.resistance) };
}

function describeTrade(r: AnalysisResult): string {
  return `${r.recommendation} entry ${r.entryPrice ?? 'none'}, stop loss ${r.stopLoss ?? 'none'}, take profit ${r.takeProfit ?? 'none'}`;
}

/**
 * Checks a LONG or SHORT against the rules, repairing in place what has one clear repair (and
 * saying so in `warnings`). Returns why the trade cannot stand, or undefined when it can.
 */
function checkTrade(r: AnalysisResult, ctx: GroundingContext, warnings: string[]): string | undefined {
  const long = r.recommendation === 'LONG';
  const lastPrice = positive(ctx.lastPrice) ? ctx.lastPrice : undefined;

  if (r.entryPrice === null) {
    if (lastPrice === undefined)
      return `${r.recommendation} without an entry price, and the last price is unknown`;
    r.entryPrice = lastPrice;
    warnings.push(`entry price missing: the last price ${lastPrice} is used`);
  }
  const entry = r.entryPrice;
  if (r.stopLoss === null) return `${r.recommendation} without a stop loss`;
  if (r.takeProfit === null) return `${r.recommendation} without a take profit`;

  if (lastPrice === undefined) {
    warnings.push('the last price is unknown: the entry distance was not checked');
  } else {
    const atr = positive(ctx.atr) ? ctx.atr : undefined;
    const limit = atr ? (ctx.maxEntryAtr ?? 5) * atr : (ctx.maxEntryFraction ?? 0.1) * lastPrice;
    const basis = atr
      ? `${ctx.maxEntryAtr ?? 5} ATR (${round2(limit)})`
      : `${(ctx.maxEntryFraction ?? 0.1) * 100}%`;
    const distance = Math.abs(entry - lastPrice);
    if (distance > limit) {
      return `entry ${entry} is ${round2(distance)} away from the last price ${lastPrice}, more than ${basis}`;
    }
  }

  const sl = r.stopLoss;
  const tp = r.takeProfit;
  const ordered = long ? sl < entry && entry < tp : tp < entry && entry < sl;
  if (ordered) return undefined;

  const mirrored = long ? tp < entry && entry < sl : sl < entry && entry < tp;
  const trendAgainst = long ? r.trend === 'bearish' : r.trend === 'bullish';
  if (mirrored && !trendAgainst) {
    r.stopLoss = tp;
    r.takeProfit = sl;
    warnings.push(
      `stop loss and take profit were on the wrong sides for a ${r.recommendation} and have been swapped: ` +
        `stop loss ${tp}, take profit ${sl}`,
    );
    return undefined;
  }
  if (mirrored) {
    return `the levels describe the opposite trade of ${r.recommendation} and the trend is ${r.trend}: the direction is ambiguous`;
  }
  const rule = long ? 'stop loss < entry < take profit' : 'take profit < entry < stop loss';
  return `a ${r.recommendation} needs ${rule}`;
}

/**
 * Makes an analyst's output trustworthy: a LONG needs stop loss < entry < take profit, a SHORT the
 * reverse, the entry near the last price, and a confidence at or above the threshold. What breaks
 * a rule is repaired when there is one clear repair, otherwise the recommendation becomes NEUTRAL;
 * either way the reason is in `warnings`. `riskRewardRatio` is computed here, never taken from the
 * model.
 */
export function ground(output: AnalystOutput, ctx: GroundingContext): AnalysisResult {
  const warnings: string[] = [];
  const result: AnalysisResult = {
    ...output,
    signals: [...output.signals],
    keyLevels: sortedKeyLevels(output.keyLevels),
    riskRewardRatio: null,
    warnings,
  };

  const neutralise = (reason: string) => {
    warnings.push(`${reason}; recommendation set to NEUTRAL (was ${describeTrade(result)})`);
    result.recommendation = 'NEUTRAL';
    result.entryPrice = null;
    result.stopLoss = null;
    result.takeProfit = null;
  };

  if (result.recommendation !== 'NEUTRAL') {
    const problem = checkTrade(result, ctx, warnings);
    if (problem) neutralise(problem);
  }

  const threshold = ctx.confidenceThreshold;
  if (result.recommendation !== 'NEUTRAL' && threshold !== undefined && result.confidence < threshold) {
    neutralise(`confidence ${result.confidence} is below the threshold ${threshold}`);
  }

  if (
    result.recommendation !== 'NEUTRAL' &&
    result.entryPrice !== null &&
    result.stopLoss !== null &&
    result.takeProfit !== null
  ) {
    const risk = Math.abs(result.entryPrice - result.stopLoss);
    result.riskRewardRatio = round2(Math.abs(result.takeProfit - result.entryPrice) / risk);
  }
  return result;
}
