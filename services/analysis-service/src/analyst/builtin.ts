import type { AnalystOutput, TradingStyle, Trend } from '@chartwright/contracts';
import { type Bar, type MarketSnapshot, SNAPSHOT_LOOKBACK, snapshot } from '@chartwright/market';
import { AnalystError } from './errors.js';
import type { Analyst, AnalystAnswer, AnalystBar, AnalystInput } from './types.js';

export const BUILTIN_MODEL = 'chartwright-technical-v1';

/** Fewest bars the readings need (SMA 50, MACD 26+9, ADX 14 with room to compare). */
export const MIN_BARS = 60;

/** Stop distance in ATRs by trading style, and the bars on each side of a pivot. */
const STYLE: Record<TradingStyle, { stopAtr: number; pivot: number }> = {
  scalping: { stopAtr: 1, pivot: 2 },
  day_trading: { stopAtr: 1.5, pivot: 3 },
  swing_trading: { stopAtr: 2, pivot: 4 },
  position_trading: { stopAtr: 3, pivot: 6 },
};

/** How far back "rising from" / "falling from" compares. */
const LOOKBACK = SNAPSHOT_LOOKBACK;
const MIN_REWARD_RISK = 1.5;

interface Signal {
  text: string;
  /** +1 bullish, -1 bearish, fractions for weaker evidence, 0 for context. */
  vote: number;
}

export interface Level {
  price: number;
  /** Pivots merged into this level. */
  touches: number;
}

/** Prices to a sensible number of significant digits, like the bars' own tick size. */
export function roundPrice(p: number): number {
  if (!Number.isFinite(p) || p === 0) return p;
  const decimals = Math.max(0, Math.min(8, 5 - Math.floor(Math.log10(Math.abs(p)))));
  return Number(p.toFixed(decimals));
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/**
 * Support and resistance from pivot clustering: swing highs and lows (a bar whose high or low is
 * the extreme of `window` bars on each side), merged when within `tolerance` of each other. A level
 * is the mean of its pivots; more touches first.
 */
export function pivotLevels(bars: readonly Bar[], window: number, tolerance: number): Level[] {
  const pivots: number[] = [];
  for (let i = window; i < bars.length - window; i++) {
    const bar = bars[i]!;
    let isHigh = true;
    let isLow = true;
    for (let j = i - window; j <= i + window && (isHigh || isLow); j++) {
      if (j === i) continue;
      if (bars[j]!.high >= bar.high) isHigh = false;
      if (bars[j]!.low <= bar.low) isLow = false;
    }
    if (isHigh) pivots.push(bar.high);
    if (isLow) pivots.push(bar.low);
  }
  pivots.sort((a, b) => a - b);
  const clusters: number[][] = [];
  for (const p of pivots) {
    const current = clusters.at(-1);
    const mean = current ? current.reduce((s, v) => s + v, 0) / current.length : 0;
    if (current && p - mean <= tolerance) current.push(p);
    else clusters.push([p]);
  }
  return clusters.map((c) => ({
    price: roundPrice(c.reduce((s, v) => s + v, 0) / c.length),
    touches: c.length,
  }));
}

function trendOf(s: MarketSnapshot): { trend: Trend; signals: Signal[] } {
  const signals: Signal[] = [];
  let score = 0;
  const close = s.lastClose!;
  if (s.sma50 !== null) {
    const above = close > s.sma50;
    score += above ? 1 : -1;
    signals.push({
      text: `Close ${roundPrice(close)} ${above ? 'above' : 'below'} SMA(50) ${roundPrice(s.sma50)}`,
      vote: above ? 1 : -1,
    });
  }
  if (s.sma20SlopePct !== null) {
    const slope = s.sma20SlopePct;
    const dir = slope > 0.05 ? 1 : slope < -0.05 ? -1 : 0;
    score += dir;
    signals.push({
      text: `SMA(20) slope ${slope >= 0 ? '+' : ''}${fmt(slope, 2)}% over ${LOOKBACK} bars (${dir > 0 ? 'rising' : dir < 0 ? 'falling' : 'flat'})`,
      vote: dir,
    });
  }
  if (s.sma20 !== null && s.sma50 !== null) {
    const golden = s.sma20 > s.sma50;
    score += golden ? 0.5 : -0.5;
    signals.push({
      text: `SMA(20) ${roundPrice(s.sma20)} ${golden ? 'above' : 'below'} SMA(50) ${roundPrice(s.sma50)}`,
      vote: golden ? 0.5 : -0.5,
    });
  }
  if (s.adx14 !== null && s.plusDI !== null && s.minusDI !== null) {
    const strong = s.adx14 >= 20;
    const bull = s.plusDI > s.minusDI;
    const vote = strong ? (bull ? 1 : -1) : 0;
    score += vote;
    signals.push({
      text: `ADX(14) ${fmt(s.adx14)} (${strong ? 'trending' : 'weak trend'}), +DI ${fmt(s.plusDI)} ${bull ? '>' : '<'} -DI ${fmt(s.minusDI)}`,
      vote,
    });
  }
  const trend: Trend = score >= 2 ? 'bullish' : score <= -2 ? 'bearish' : 'neutral';
  return { trend, signals };
}

function momentumSignals(s: MarketSnapshot): Signal[] {
  const out: Signal[] = [];
  if (s.rsi14 !== null) {
    const rsi = s.rsi14;
    const before = s.earlier.rsi14;
    const motion =
      before === null
        ? ''
        : rsi > before + 1
          ? ` rising from ${fmt(before)}`
          : rsi < before - 1
            ? ` falling from ${fmt(before)}`
            : ` flat (${fmt(before)} ${LOOKBACK} bars ago)`;
    let vote = 0;
    let note = '';
    if (rsi >= 70) {
      vote = -0.5;
      note = ', overbought';
    } else if (rsi <= 30) {
      vote = 0.5;
      note = ', oversold';
    } else if (rsi > 50) vote = before !== null && rsi < before - 1 ? 0 : 1;
    else if (rsi < 50) vote = before !== null && rsi > before + 1 ? 0 : -1;
    out.push({ text: `RSI(14) ${fmt(rsi)}${motion}${note}`, vote });
  }
  if (s.macd) {
    const { macd, signal, histogram } = s.macd;
    const prevHist = s.earlier.macdHistogram;
    const crossed = prevHist !== null && Math.sign(prevHist) !== Math.sign(histogram) && histogram !== 0;
    const growing = prevHist !== null && Math.abs(histogram) > Math.abs(prevHist);
    const bull = histogram > 0;
    out.push({
      text:
        `MACD(12,26,9) ${roundPrice(macd)} ${bull ? 'above' : 'below'} signal ${roundPrice(signal)}, ` +
        `histogram ${roundPrice(histogram)}${crossed ? ` (crossed ${bull ? 'up' : 'down'} within ${LOOKBACK} bars)` : growing ? ' (widening)' : ' (narrowing)'}`,
      vote: (bull ? 1 : -1) * (crossed || growing ? 1 : 0.5),
    });
  }
  if (s.bollinger) {
    const b = s.bollinger;
    const pb = b.percentB;
    let where = 'inside the bands';
    let vote = 0;
    if (pb <= 0.05) {
      where = 'at the lower band';
      vote = 0.5;
    } else if (pb >= 0.95) {
      where = 'at the upper band';
      vote = -0.5;
    } else if (pb > 0.5) where = 'in the upper half';
    else where = 'in the lower half';
    out.push({
      text: `Bollinger(20,2) %B ${fmt(pb, 2)}: price ${where} (lower ${roundPrice(b.lower)}, middle ${roundPrice(b.middle)}, upper ${roundPrice(b.upper)})`,
      vote,
    });
  }
  if (s.stochastic) {
    const { k, d } = s.stochastic;
    const vote = k >= 80 ? -0.5 : k <= 20 ? 0.5 : k > d ? 0.5 : -0.5;
    const zone = k >= 80 ? ', overbought' : k <= 20 ? ', oversold' : '';
    out.push({
      text: `Stochastic(14,3,3) %K ${fmt(k)} ${k > d ? 'above' : 'below'} %D ${fmt(d)}${zone}`,
      vote,
    });
  }
  if (s.relativeVolume !== null && s.changePct !== null) {
    const rv = s.relativeVolume;
    const heavy = rv >= 1.5;
    out.push({
      text: `Volume ${fmt(rv, 2)}x its 20-bar average on a ${s.changePct >= 0 ? '+' : ''}${fmt(s.changePct, 2)}% bar`,
      vote: heavy ? Math.sign(s.changePct) * 0.5 : 0,
    });
  }
  return out;
}

interface Plan {
  entry: number;
  stopLoss: number;
  takeProfit: number;
  stopBasis: string;
  targetBasis: string;
}

/** Entry at the last close; the stop beyond the nearest level within reach, else ATR-based. */
function planTrade(
  long: boolean,
  close: number,
  atr: number,
  stopAtr: number,
  support: Level[],
  resistance: Level[],
): Plan {
  const dir = long ? 1 : -1;
  const guard = long ? support : resistance; // nearest first
  const targets = long ? resistance : support;
  let stopLoss = close - dir * stopAtr * atr;
  let stopBasis = `${stopAtr} ATR from the entry`;
  const level = guard.find((l) => {
    const d = Math.abs(close - l.price);
    return d >= 0.5 * atr && d <= 3 * atr;
  });
  if (level) {
    stopLoss = level.price - dir * 0.25 * atr;
    stopBasis = `just beyond the ${long ? 'support' : 'resistance'} at ${level.price}`;
  }
  const risk = Math.abs(close - stopLoss);
  let takeProfit = close + dir * 2 * risk;
  let targetBasis = 'twice the risk';
  const target = targets.find((l) => Math.abs(l.price - close) >= MIN_REWARD_RISK * risk);
  if (target) {
    takeProfit = target.price;
    targetBasis = `the ${long ? 'resistance' : 'support'} at ${target.price}`;
  }
  return {
    entry: roundPrice(close),
    stopLoss: roundPrice(stopLoss),
    takeProfit: roundPrice(takeProfit),
    stopBasis,
    targetBasis,
  };
}

/**
 * The built-in analyst: deterministic technical analysis of the bars the chart was drawn from. It
 * does not look at the image; every number it gives is a reading it quotes.
 */
export class BuiltinAnalyst implements Analyst {
  readonly model = BUILTIN_MODEL;

  async analyse(input: AnalystInput): Promise<AnalystAnswer> {
    const bars = input.bars ?? input.recentBars;
    if (!bars || bars.length < MIN_BARS) {
      throw new AnalystError(
        'INVALID_INPUT',
        `the built-in analyst needs at least ${MIN_BARS} bars of market data, got ${bars?.length ?? 0}`,
      );
    }
    return {
      output: analyseBars(bars, input, input.bars ? input.snapshot : undefined),
      model: this.model,
      tokensUsed: 0,
    };
  }
}

export function analyseBars(
  bars: readonly AnalystBar[],
  input: Pick<AnalystInput, 'symbol' | 'interval' | 'tradingStyle' | 'includeRiskManagement'>,
  known?: MarketSnapshot,
): AnalystOutput {
  const now = known ?? snapshot(bars);
  const close = now.lastClose!;
  const atr = now.atr14 ?? close * 0.01;
  const style = STYLE[input.tradingStyle];

  const levels = pivotLevels(bars, style.pivot, 0.5 * atr);
  const byDistance = (a: Level, b: Level) => Math.abs(a.price - close) - Math.abs(b.price - close);
  const support = levels
    .filter((l) => l.price < close)
    .sort(byDistance)
    .slice(0, 5);
  const resistance = levels
    .filter((l) => l.price > close)
    .sort(byDistance)
    .slice(0, 5);

  const { trend, signals: trendSignals } = trendOf(now);
  const momentum = momentumSignals(now);
  const signals = [...trendSignals, ...momentum];
  const atrText = `ATR(14) ${roundPrice(atr)} (${fmt(now.atrPct ?? 0, 2)}% of price)`;

  const votes = signals.filter((s) => s.vote !== 0);
  const bull = votes.filter((s) => s.vote > 0).reduce((sum, s) => sum + s.vote, 0);
  const bear = -votes.filter((s) => s.vote < 0).reduce((sum, s) => sum + s.vote, 0);
  const total = bull + bear;
  const net = bull - bear;
  // Agreement in [0, 1]: how one-sided the evidence is.
  const agreement = total === 0 ? 0 : Math.abs(net) / total;

  let recommendation: AnalystOutput['recommendation'] = 'NEUTRAL';
  if (net >= 2 && agreement >= 0.4 && trend !== 'bearish') recommendation = 'LONG';
  else if (net <= -2 && agreement >= 0.4 && trend !== 'bullish') recommendation = 'SHORT';

  const trendBonus =
    (recommendation === 'LONG' && trend === 'bullish') || (recommendation === 'SHORT' && trend === 'bearish')
      ? 1
      : 0;
  const confidence =
    recommendation === 'NEUTRAL'
      ? Math.max(1, Math.min(4, Math.round(1 + 3 * (1 - agreement))))
      : Math.max(1, Math.min(10, Math.round(2 + 6 * agreement + trendBonus)));

  const plan =
    recommendation === 'NEUTRAL'
      ? undefined
      : planTrade(recommendation === 'LONG', close, atr, style.stopAtr, support, resistance);

  const supportPrices = support.map((l) => l.price).sort((a, b) => b - a);
  const resistancePrices = resistance.map((l) => l.price).sort((a, b) => a - b);
  const paragraphs: string[] = [];
  paragraphs.push(
    `${input.symbol} on the ${input.interval} chart closed at ${roundPrice(close)}` +
      (now.changePct !== null
        ? ` (${now.changePct >= 0 ? '+' : ''}${fmt(now.changePct, 2)}% on the last bar)`
        : '') +
      `. The trend reads ${trend}: ${trendSignals.map((s) => s.text).join('; ') || 'too few bars for moving averages'}.`,
  );
  paragraphs.push(
    `Momentum: ${momentum
      .map((s) => s.text)
      .join(
        '; ',
      )}. ${atrText}. Of the weighted evidence, ${fmt(bull, 1)} points are bullish and ${fmt(bear, 1)} bearish (agreement ${Math.round(agreement * 100)}%).`,
  );
  paragraphs.push(
    `Support from clustered swing lows/highs: ${supportPrices.length ? supportPrices.join(', ') : 'none below the price in this window'}. ` +
      `Resistance: ${resistancePrices.length ? resistancePrices.join(', ') : 'none above the price in this window'}.`,
  );
  if (plan) {
    const long = recommendation === 'LONG';
    const risk = Math.abs(plan.entry - plan.stopLoss);
    const reward = Math.abs(plan.takeProfit - plan.entry);
    let text = `${recommendation}: enter near ${plan.entry}, the last close.`;
    if (input.includeRiskManagement !== false) {
      text +=
        ` Stop loss ${plan.stopLoss}, ${plan.stopBasis}; take profit ${plan.takeProfit} at ${plan.targetBasis}` +
        ` (risk ${roundPrice(risk)}, reward ${roundPrice(reward)}, about ${fmt(reward / risk, 2)}:1).` +
        ` A close ${long ? 'below' : 'above'} ${plan.stopLoss} invalidates the idea.`;
    }
    paragraphs.push(text);
  } else {
    paragraphs.push(
      `No trade: the signals ${total === 0 ? 'are inconclusive' : 'disagree or are not strong enough'} for a ${input.tradingStyle.replace('_', ' ')} entry. ` +
        `Wait for a decisive move ${resistancePrices[0] ? `above ${resistancePrices[0]}` : 'up'} or ${supportPrices[0] ? `below ${supportPrices[0]}` : 'down'}.`,
    );
  }
  paragraphs.push(`Computed by ${BUILTIN_MODEL} from ${bars.length} bars; not investment advice.`);

  return {
    trend,
    signals: [...signals.map((s) => s.text), atrText].slice(0, 20),
    recommendation,
    entryPrice: plan?.entry ?? null,
    stopLoss: plan?.stopLoss ?? null,
    takeProfit: plan?.takeProfit ?? null,
    confidence,
    analysisText: paragraphs.join('\n\n'),
    keyLevels: { support: supportPrices.slice(0, 10), resistance: resistancePrices.slice(0, 10) },
  };
}
