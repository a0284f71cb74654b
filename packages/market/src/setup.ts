import type { BarWindow, Interval } from '@chartwright/contracts';
import { z } from 'zod';
import { type Bar, type BarsResult, barCountFor, MAX_BARS } from './bars.js';
import { MarketDataError } from './errors.js';
import { BinanceProvider } from './providers/binance.js';
import { CachedProvider } from './providers/cached.js';
import { FileProvider } from './providers/file.js';
import type { MarketDataProvider } from './providers/provider.js';
import { RoutingProvider } from './providers/routing.js';
import { generateBars } from './providers/synthetic.js';

/** Extra bars before the visible ones, so that indicators are warmed up at the left edge. */
export const WARM_UP_BARS = 150;

/**
 * The market-data variables, the same in every service that reads bars: spread them into the
 * service's env schema (`z.object({...MarketDataEnv, …})`), then pass the result to
 * {@link marketDataConfig}.
 */
export const MarketDataEnv = {
  /** Where bars come from: a seeded generator (offline), Binance klines, or files. */
  MARKET_DATA: z.enum(['synthetic', 'binance', 'file']).default('synthetic'),
  /** Folder of `EXCHANGE_TICKER_INTERVAL.csv|json` files, for MARKET_DATA=file. */
  MARKET_DATA_DIR: z.string().min(1).optional(),
  /** Seed of the synthetic bars of new charts (an analysis reads the seed from its chart). */
  MARKET_DATA_SEED: z.coerce
    .number()
    .int()
    .min(0)
    .max(2 ** 31)
    .default(1),
  /** Binance REST base URL; tests point it at a local server. */
  BINANCE_BASE_URL: z.url({ message: 'must be a URL' }).optional(),
  /** How long fetched bars are reused per symbol, interval and window. */
  MARKET_DATA_CACHE_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
};

export interface MarketDataConfig {
  source: 'synthetic' | 'binance' | 'file';
  dir?: string;
  seed: number;
  binanceBaseUrl?: string;
  cacheMs: number;
}

/** The config from parsed {@link MarketDataEnv} values, and the problems a schema cannot see. */
export function marketDataConfig(e: {
  MARKET_DATA: MarketDataConfig['source'];
  MARKET_DATA_DIR?: string;
  MARKET_DATA_SEED: number;
  BINANCE_BASE_URL?: string;
  MARKET_DATA_CACHE_MS: number;
}): { config: MarketDataConfig; issues: { variable: string; problem: string }[] } {
  const issues =
    e.MARKET_DATA === 'file' && !e.MARKET_DATA_DIR
      ? [{ variable: 'MARKET_DATA_DIR', problem: 'required when MARKET_DATA=file' }]
      : [];
  return {
    config: {
      source: e.MARKET_DATA,
      dir: e.MARKET_DATA_DIR,
      seed: e.MARKET_DATA_SEED,
      binanceBaseUrl: e.BINANCE_BASE_URL,
      cacheMs: e.MARKET_DATA_CACHE_MS,
    },
    issues,
  };
}

/** Bars for a chart: the warm-up, then the visible ones, and the window that names them. */
export interface ChartSeries extends BarsResult {
  /** How many of the newest bars the chart shows. */
  visible: number;
  window: BarWindow;
  /** Set when the bars may differ from the ones asked for. */
  warning?: string;
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * The one market-data setup of every service: the configured source behind a cache (TTL
 * `MARKET_DATA_CACHE_MS`). `forChart` picks the bars of a new chart and names them in a
 * {@link BarWindow}; `forWindow` gives back exactly those bars later (an analysis of the chart).
 */
export class MarketData {
  readonly #real: MarketDataProvider | undefined;
  #binance: MarketDataProvider | undefined;

  constructor(private readonly cfg: MarketDataConfig) {
    const cache = { ttlMs: cfg.cacheMs };
    if (cfg.source === 'binance') {
      this.#binance = new CachedProvider(
        new RoutingProvider({ BINANCE: new BinanceProvider({ baseUrl: cfg.binanceBaseUrl }) }),
        cache,
      );
      this.#real = this.#binance;
    } else if (cfg.source === 'file') {
      // The file provider keeps its parsed files itself, until they change.
      this.#real = new FileProvider(cfg.dir!);
    }
  }

  /** The bars to draw a chart of `c` at time `at`: the visible ones plus the warm-up. */
  async forChart(
    c: { symbol: string; interval: Interval; range?: string },
    at: Date,
    signal?: AbortSignal,
  ): Promise<ChartSeries> {
    const visible = barCountFor(c.range, c.interval, at.getTime());
    const limit = Math.min(MAX_BARS, visible + WARM_UP_BARS);
    if (!this.#real) {
      const bars = generateBars(c.symbol, c.interval, limit, { seed: this.cfg.seed, end: at.getTime() });
      return this.#series({ bars, source: 'synthetic', synthetic: true }, visible, this.cfg.seed);
    }
    const r = await this.#real.getBars({ symbol: c.symbol, interval: c.interval, limit, signal });
    return this.#series(r, Math.min(visible, r.bars.length), null);
  }

  /**
   * Exactly the bars of `window` (warm-up included): synthetic ones re-created from their seed,
   * real ones fetched again up to the window's last bar. A source that no longer has them all
   * gives what it has, with a warning.
   */
  async forWindow(
    symbol: string,
    interval: Interval,
    window: BarWindow,
    signal?: AbortSignal,
  ): Promise<ChartSeries> {
    const end = Date.parse(window.to);
    const total = window.count + window.warmUp;
    let result: BarsResult;
    if (window.synthetic) {
      const bars = generateBars(symbol, interval, total, { seed: window.seed ?? this.cfg.seed, end });
      result = { bars, source: 'synthetic', synthetic: true };
    } else {
      const provider = this.#providerFor(window.source);
      result = await provider.getBars({ symbol, interval, limit: total, end, signal });
    }
    const series = this.#series(result, Math.min(window.count, result.bars.length), window.seed);
    const same =
      series.window.from === window.from &&
      series.window.to === window.to &&
      series.visible === window.count &&
      series.window.warmUp === window.warmUp;
    return same
      ? { ...series, window }
      : {
          ...series,
          warning: `the market data source no longer has the chart's exact bars (${window.from} to ${window.to}); the readings use the nearest it has`,
        };
  }

  #providerFor(source: string): MarketDataProvider {
    if (this.#real && (source === this.cfg.source || source.startsWith(`${this.cfg.source}:`)))
      return this.#real;
    if (source === 'binance') {
      this.#binance ??= new CachedProvider(
        new RoutingProvider({ BINANCE: new BinanceProvider({ baseUrl: this.cfg.binanceBaseUrl }) }),
        { ttlMs: this.cfg.cacheMs },
      );
      return this.#binance;
    }
    throw new MarketDataError(
      'UPSTREAM_ERROR',
      `the chart's bars came from ${source}, which this service is not set up to read (MARKET_DATA=${this.cfg.source})`,
    );
  }

  #series(r: BarsResult, visible: number, seed: number | null): ChartSeries {
    const bars: Bar[] = r.bars;
    const first = bars[bars.length - visible];
    const last = bars[bars.length - 1];
    if (!first || !last)
      throw new MarketDataError('UPSTREAM_ERROR', 'the market data source returned no bars');
    return {
      ...r,
      visible,
      window: {
        source: r.source,
        synthetic: r.synthetic,
        seed: r.synthetic ? seed : null,
        from: iso(first.time),
        to: iso(last.time),
        count: visible,
        warmUp: bars.length - visible,
      },
    };
  }
}
