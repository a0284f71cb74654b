import type { ChartConfig } from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import {
  type BarsResult,
  BinanceProvider,
  barCountFor,
  CachedProvider,
  FileProvider,
  generateBars,
  MAX_BARS,
  MarketDataError,
  type MarketDataProvider,
  RoutingProvider,
} from '@chartwright/market';
import type { ChartServiceConfig } from './config.js';

/** Extra bars before the visible ones, so that indicators are warmed up at the left edge. */
const WARM_UP_BARS = 150;

export interface ChartBars extends BarsResult {
  /** How many of the newest bars the chart shows. */
  visible: number;
}

/**
 * Bars for a chart from the configured source. Synthetic bars end at the chart's generation time
 * with the shared seed, so analysis-service can re-create exactly the bars the chart shows.
 */
export class ChartMarketData {
  readonly #real: MarketDataProvider | undefined;

  constructor(private readonly cfg: ChartServiceConfig['market']) {
    if (cfg.source === 'binance') {
      const binance = new BinanceProvider({ baseUrl: cfg.binanceBaseUrl });
      this.#real = new CachedProvider(new RoutingProvider({ BINANCE: binance }), { ttlMs: cfg.cacheMs });
    } else if (cfg.source === 'file') {
      this.#real = new CachedProvider(new FileProvider(cfg.dir!), { ttlMs: cfg.cacheMs });
    }
  }

  async forChart(config: ChartConfig, at: Date, signal?: AbortSignal): Promise<ChartBars> {
    const visible = barCountFor(config.range, config.interval, at.getTime());
    const limit = Math.min(MAX_BARS, visible + WARM_UP_BARS);
    if (!this.#real) {
      const bars = generateBars(config.symbol, config.interval, limit, {
        seed: this.cfg.seed,
        end: at.getTime(),
      });
      return { bars, source: 'synthetic', synthetic: true, visible };
    }
    try {
      const r = await this.#real.getBars({ symbol: config.symbol, interval: config.interval, limit, signal });
      return { ...r, visible: Math.min(visible, r.bars.length) };
    } catch (err) {
      throw marketError(err);
    }
  }
}

function marketError(err: unknown): unknown {
  if (!(err instanceof MarketDataError)) return err;
  switch (err.code) {
    case 'UNKNOWN_SYMBOL':
      return new ServiceError('VALIDATION_ERROR', err.message, [{ field: 'symbol', message: err.message }]);
    case 'UNSUPPORTED_INTERVAL':
      return new ServiceError('VALIDATION_ERROR', err.message, [{ field: 'interval', message: err.message }]);
    case 'INVALID_REQUEST':
      return new ServiceError('VALIDATION_ERROR', err.message);
    case 'RATE_LIMITED':
      return new ServiceError(
        'RATE_LIMIT_EXCEEDED',
        `The market data provider is rate limiting: ${err.message}`,
        err.retryAfterMs ? { retryAfterSeconds: Math.ceil(err.retryAfterMs / 1000) } : undefined,
      );
    case 'TIMEOUT':
      return new ServiceError('TIMEOUT', `Market data: ${err.message}`);
    default:
      return new ServiceError('UPSTREAM_ERROR', `Market data: ${err.message}`);
  }
}
