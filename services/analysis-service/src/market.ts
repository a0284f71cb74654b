import type { BarWindow, ChartConfig, Interval } from '@chartwright/contracts';
import type { ChartSeries, MarketData, MarketSnapshot } from '@chartwright/market';

export interface ChartData {
  symbol: string;
  interval: Interval;
  config: ChartConfig;
  synthetic: boolean;
  generatedAt: Date;
  /** The bars the chart was drawn from, when chart-service drew it. */
  bars: BarWindow | null;
}

/**
 * The bars a chart was drawn from: exactly its window when it has one. A chart-img.com chart has
 * none: the configured source's bars at its generation time stand in, labelled as such.
 */
export async function chartSeries(
  market: MarketData,
  chart: ChartData,
  signal?: AbortSignal,
): Promise<ChartSeries> {
  if (chart.bars) return market.forWindow(chart.symbol, chart.interval, chart.bars, signal);
  const series = await market.forChart(chart.config, chart.generatedAt, signal);
  if (series.synthetic && !chart.synthetic)
    return {
      ...series,
      warning:
        'the readings come from synthetic market data (MARKET_DATA=synthetic), not the data the chart was drawn from',
    };
  return series;
}

const round = (n: number) => Number.parseFloat(n.toPrecision(6));

/** Named readings for a model's prompt, from a snapshot; unknown values are left out. */
export function readingsOf(s: MarketSnapshot): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  const put = (name: string, v: number | null | undefined) => {
    if (v !== null && v !== undefined && Number.isFinite(v)) out[name] = round(v);
  };
  put('Last close', s.lastClose);
  put('Change over the last bar (%)', s.changePct);
  put('Highest high', s.high);
  put('Lowest low', s.low);
  put('SMA(20)', s.sma20);
  put('SMA(50)', s.sma50);
  put('SMA(200)', s.sma200);
  put('SMA(20) slope over 5 bars (%)', s.sma20SlopePct);
  put('SMA(50) slope over 5 bars (%)', s.sma50SlopePct);
  put('EMA(20)', s.ema20);
  put('RSI(14)', s.rsi14);
  put('MACD(12,26,9) line', s.macd?.macd);
  put('MACD(12,26,9) signal', s.macd?.signal);
  put('MACD(12,26,9) histogram', s.macd?.histogram);
  put('ADX(14)', s.adx14);
  put('+DI(14)', s.plusDI);
  put('-DI(14)', s.minusDI);
  put('ATR(14)', s.atr14);
  put('ATR(14) (% of price)', s.atrPct);
  put('Bollinger(20,2) upper', s.bollinger?.upper);
  put('Bollinger(20,2) middle', s.bollinger?.middle);
  put('Bollinger(20,2) lower', s.bollinger?.lower);
  put('Bollinger(20,2) %B', s.bollinger?.percentB);
  put('Stochastic(14,3,3) %K', s.stochastic?.k);
  put('Stochastic(14,3,3) %D', s.stochastic?.d);
  put('Relative volume (last bar / 20-bar average)', s.relativeVolume);
  return out;
}
