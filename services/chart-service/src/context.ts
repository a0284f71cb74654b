import type { ServiceContext } from '@chartwright/kit';
import type { MarketData } from '@chartwright/market';
import type { ObjectStore } from '@chartwright/object-store';
import type { ChartImgClient } from './chart-img/index.js';
import type { ChartServiceConfig } from './config.js';
import type { ChartDb } from './db/schema.js';
import type { RenderPool } from './render/index.js';

/** Everything chart-service's use cases work with. */
export interface ChartContext extends ServiceContext<ChartDb, ChartServiceConfig> {
  readonly objects: ObjectStore;
  readonly pool: RenderPool;
  readonly market: MarketData;
  /** Set when chart-img.com is configured (`CHART_IMG_API_KEY`). */
  readonly chartImg: ChartImgClient | undefined;
}
