import type { ChartConfig, Interval } from '@chartwright/contracts';
import {
  type Bar,
  BinanceProvider,
  barCountFor,
  CachedProvider,
  FileProvider,
  generateBars,
  MAX_BARS,
  type MarketDataProvider,
  type MarketSnapshot,
  RoutingProvider,
} from '@chartwright/market';
import type { AnalysisConfig } from './config.js';

const WARM_UP_BARS = 150;

export interface ChartSeries {
  bars: Bar[];
  synthetic: boolean;
  /** Set when the bars may differ from the ones the chart was drawn with. */
  warning?: string;
}

export interface ChartData {
  symbol: string;
  interval: string;
  config: ChartConfig;
  synthetic: boolean;
  generatedAt: Date;
}

/**
 * Re-creates the bars a chart was drawn from. A synthetic chart gets the seeded generator's bars at
 * its generation time (the same bars); a real one asks the configured provider, as chart-service does.
 */
export class ChartBars {
  private readonly real: MarketDataProvider | undefined;

  constructor(private readonly cfg: AnalysisConfig['market']) {
    if (cfg.source === 'binance') {
      const binance = new BinanceProvider({ baseUrl: cfg.binanceBaseUrl });
      this.real = new CachedProvider(new RoutingProvider({ BINANCE: binance }));
    } else if (cfg.source === 'file') {
      this.real = new CachedProvider(new FileProvider(cfg.dir!));
    }
  }

  async forChart(chart: ChartData, signal?: AbortSignal): Promise<ChartSeries> {
    const interval = chart.config.interval as Interval;
    const at = chart.generatedAt.getTime();
    // As chart-service draws: the visible bars plus a warm-up so indicators are settled.
    const count = Math.min(MAX_BARS, barCountFor(chart.config.range, interval, at) + WARM_UP_BARS);
    if (chart.synthetic || !this.real) {
      const bars = generateBars(chart.config.symbol, interval, count, { seed: this.cfg.seed, end: at });
      return chart.synthetic
        ? { bars, synthetic: true }
        : {
            bars,
            synthetic: true,
            warning:
              'the readings come from synthetic market data (MARKET_DATA=synthetic), not the data the chart was drawn from',
          };
    }
    const result = await this.real.getBars({ symbol: chart.config.symbol, interval, limit: count, signal });
    return { bars: result.bars, synthetic: result.synthetic };
  }
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
