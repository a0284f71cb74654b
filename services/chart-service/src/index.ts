import { openServiceStore, type RunningService, type ServiceFactory, stopAll } from '@chartwright/kit';
import { migrations } from './db/migrations/index.js';
import type { ChartDb } from './db/schema.js';

export const SERVICE = 'chart-service';

/** Chart generation, rendering and chart history. */
export const startChartService: ServiceFactory = async (rt): Promise<RunningService> => {
  const { database, relay } = await openServiceStore<ChartDb>(rt, 'chart', migrations);
  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      await stopAll([], relay, database);
    },
  };
};
