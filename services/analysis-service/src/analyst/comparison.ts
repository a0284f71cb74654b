import type { AnalysisResult, ChartConfig, ComparisonReading } from '@chartwright/contracts';
import type { Bar, MarketData } from '@chartwright/market';
import { BUILTIN_MODEL, roundPrice } from './builtin.js';
import { AnalystError } from './errors.js';

export interface ComparedSeries {
  symbol: string;
  /** Visible bars, oldest first. */
  bars: readonly Bar[];
}

const ticker = (symbol: string) => symbol.split(':').at(-1) ?? symbol;
const round = (n: number, digits: number) => Number(n.toFixed(digits));

/** Bar-to-bar returns of closes at the times every series has. */
function sharedReturns(series: readonly ComparedSeries[]): { closes: number[][]; returns: number[][] } {
  const sets = series.map((s) => new Set(s.bars.map((b) => b.time)));
  const closes = series.map((s) =>
    s.bars.filter((b) => sets.every((set) => set.has(b.time))).map((b) => b.close),
  );
  const returns = closes.map((c) => c.slice(1).map((v, i) => v / c[i]! - 1));
  return { closes, returns };
}

const mean = (xs: readonly number[]) => xs.reduce((s, v) => s + v, 0) / (xs.length || 1);

function covariance(a: readonly number[], b: readonly number[]): number {
  const ma = mean(a);
  const mb = mean(b);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - ma) * (b[i]! - mb);
  return a.length > 1 ? s / (a.length - 1) : 0;
}

/**
 * Relative strength (return over the window), correlation of bar returns per pair, and beta
 * against the first symbol, from the bars the symbols share.
 */
export function compareSeries(series: readonly ComparedSeries[]): ComparisonReading {
  const { closes, returns } = sharedReturns(series);
  const n = closes[0]?.length ?? 0;
  if (n < 3)
    throw new AnalystError('INVALID_INPUT', `the symbols share only ${n} bars; a comparison needs 3`);
  const base = returns[0]!;
  const varBase = covariance(base, base);
  const symbols = series
    .map((s, i) => {
      const c = closes[i]!;
      const beta = varBase > 0 ? covariance(returns[i]!, base) / varBase : null;
      return {
        symbol: s.symbol,
        rank: 0,
        returnPct: round((c.at(-1)! / c[0]! - 1) * 100, 4),
        beta: beta === null ? null : round(beta, 4),
      };
    })
    .sort((a, b) => b.returnPct - a.returnPct)
    .map((s, i) => ({ ...s, rank: i + 1 }));
  const correlations: ComparisonReading['correlations'] = [];
  for (let i = 0; i < series.length; i++) {
    for (let j = i + 1; j < series.length; j++) {
      const a = returns[i]!;
      const b = returns[j]!;
      const d = Math.sqrt(covariance(a, a) * covariance(b, b));
      correlations.push({
        a: series[i]!.symbol,
        b: series[j]!.symbol,
        correlation: d > 0 ? round(covariance(a, b) / d, 4) : null,
      });
    }
  }
  return { bars: n, symbols, correlations };
}

const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}%`;

/** The analysis of a comparison chart: the readings in words, NEUTRAL with no levels (no trade is implied). */
export function comparisonResult(reading: ComparisonReading, interval: string): AnalysisResult {
  const first = reading.symbols.find((s) => s.beta === 1) ?? reading.symbols[0]!;
  const ranking = reading.symbols
    .map((s) => `${s.rank}. ${ticker(s.symbol)} ${signed(s.returnPct)}`)
    .join(', ');
  const signals = [
    ...reading.symbols.map(
      (s) =>
        `${ticker(s.symbol)}: ${signed(s.returnPct)} over ${reading.bars} bars (rank ${s.rank}), beta ${s.beta ?? 'n/a'}`,
    ),
    ...reading.correlations.map(
      (c) => `Correlation of ${interval} returns ${ticker(c.a)}/${ticker(c.b)}: ${c.correlation ?? 'n/a'}`,
    ),
  ].slice(0, 20);
  const strongest = reading.symbols[0]!;
  const weakest = reading.symbols.at(-1)!;
  const text = [
    `Relative strength over the ${reading.bars} ${interval} bars the symbols share, strongest first: ${ranking}.`,
    `${ticker(strongest.symbol)} led, ${roundPrice(strongest.returnPct - weakest.returnPct)} percentage points ahead of ${ticker(weakest.symbol)}.`,
    `Correlation of bar returns: ${reading.correlations.map((c) => `${ticker(c.a)}/${ticker(c.b)} ${c.correlation ?? 'n/a'}`).join(', ')}.`,
    `Beta against ${ticker(first.symbol)}: ${reading.symbols
      .filter((s) => s.symbol !== first.symbol)
      .map((s) => `${ticker(s.symbol)} ${s.beta ?? 'n/a'}`)
      .join(', ')}.`,
    `A comparison ranks symbols; it implies no trade, so the recommendation is NEUTRAL with no levels. Computed by ${BUILTIN_MODEL}; not investment advice.`,
  ].join('\n\n');
  return {
    trend: 'neutral',
    signals,
    recommendation: 'NEUTRAL',
    entryPrice: null,
    stopLoss: null,
    takeProfit: null,
    riskRewardRatio: null,
    confidence: 5,
    analysisText: text,
    keyLevels: { support: [], resistance: [] },
    warnings: [],
    comparison: reading,
  };
}

/** Reads every symbol's bars of a comparison chart (its first symbol's window) and compares them. */
export async function analyseComparisonChart(
  market: MarketData,
  chart: { bars: Parameters<MarketData['forWindow']>[2] | null; generated_at: Date },
  config: ChartConfig,
  signal: AbortSignal,
): Promise<{ result: AnalysisResult; model: string; tokensUsed: number; costUsd: undefined }> {
  const series = await Promise.all(
    config.compare!.symbols.map(async (symbol) => {
      const s = chart.bars
        ? await market.forWindow(symbol, config.interval, chart.bars, signal)
        : await market.forChart({ ...config, symbol }, chart.generated_at, signal);
      return { symbol, bars: s.bars.slice(s.bars.length - s.visible) };
    }),
  );
  return {
    result: comparisonResult(compareSeries(series), config.interval),
    model: BUILTIN_MODEL,
    tokensUsed: 0,
    costUsd: undefined,
  };
}
