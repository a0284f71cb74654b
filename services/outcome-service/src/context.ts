import type { ServiceContext } from '@chartwright/kit';
import type { MarketData } from '@chartwright/market';
import type { OutcomeConfig } from './config.js';
import type { OutcomeDb } from './db/schema.js';

/** Everything outcome-service's use cases work with: the common context and the bars after a signal. */
export interface OutcomeContext extends ServiceContext<OutcomeDb, OutcomeConfig> {
  readonly market: MarketData;
}
