import { openServiceStore, type RunningService, type ServiceFactory, stopAll } from '@chartwright/kit';
import { migrations } from './db/migrations/index.js';
import type { StorageDb } from './db/schema.js';

export const SERVICE = 'storage-service';

/** Object storage (S3 or a folder), permanent copies, signed links. */
export const startStorageService: ServiceFactory = async (rt): Promise<RunningService> => {
  const { database, relay } = await openServiceStore<StorageDb>(rt, 'storage', migrations);
  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      await stopAll([], relay, database);
    },
  };
};
