import { openServiceStore, type RunningService, type ServiceFactory, stopAll } from '@chartwright/kit';
import { migrations } from './db/migrations/index.js';
import type { AnalysisDb } from './db/schema.js';

export const SERVICE = 'analysis-service';

/** AI chart analysis: download-on-demand, model adapters, results. */
export const startAnalysisService: ServiceFactory = async (rt): Promise<RunningService> => {
  const { database, relay } = await openServiceStore<AnalysisDb>(rt, 'analysis', migrations);
  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      await stopAll([], relay, database);
    },
  };
};
