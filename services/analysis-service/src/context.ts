import type { ServiceContext } from '@chartwright/kit';
import type { MarketData } from '@chartwright/market';
import type { ObjectStore } from '@chartwright/object-store';
import type { Analyst } from './analyst/types.js';
import type { AnalysisConfig } from './config.js';
import type { AnalysisDb } from './db/schema.js';

/** Everything analysis-service's use cases work with. */
export interface AnalysisContext extends ServiceContext<AnalysisDb, AnalysisConfig> {
  readonly objects: ObjectStore;
  readonly analyst: Analyst;
  readonly market: MarketData;
}
