import type { BarsResult } from '../bars.js';
import { splitSymbol } from '../bars.js';
import { MarketDataError } from '../errors.js';
import type { BarsRequest, MarketDataProvider } from './provider.js';

/**
 * Picks a provider by the symbol's exchange prefix (`BINANCE:` → Binance), else the fallback.
 * With no fallback, an unrouted exchange is `UNKNOWN_SYMBOL`.
 */
export class RoutingProvider implements MarketDataProvider {
  constructor(
    private readonly routes: Readonly<Record<string, MarketDataProvider>>,
    private readonly fallback?: MarketDataProvider,
  ) {}

  getBars(req: BarsRequest): Promise<BarsResult> {
    const provider = this.routes[splitSymbol(req.symbol).exchange] ?? this.fallback;
    if (!provider) {
      return Promise.reject(new MarketDataError('UNKNOWN_SYMBOL', `No market data source for ${req.symbol}`));
    }
    return provider.getBars(req);
  }
}
