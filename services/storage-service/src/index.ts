import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  startMessaging,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { openObjectStore } from '@chartwright/object-store';
import { loadStorageConfig } from './config.js';
import { consumers } from './consumers.js';
import type { StorageContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { StorageDb } from './db/schema.js';
import { SERVICE, StorageEvents } from './events.js';
import { handlers } from './handlers.js';
import { Storage } from './storage.js';

export { loadStorageConfig, type StorageConfig } from './config.js';
export { fetchChartImage } from './download.js';
export { SERVICE } from './events.js';

const QUEUE = 'storage-service';

/**
 * Object storage (S3 or a folder): records the chart images chart-service stored, copies images
 * that live elsewhere (chart-img.com CDN links) to permanent storage, and deletes a chart's
 * objects when the chart is deleted.
 */
export const startStorageService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadStorageConfig(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  const objects = openObjectStore(rt.env);
  const { database, relay } = await openServiceStore<StorageDb>(rt, 'storage', migrations).catch(
    async (err) => {
      await objects.close?.();
      throw err;
    },
  );
  const ctx: StorageContext = {
    db: database.db,
    bus: rt.bus,
    relay,
    config,
    logger,
    clock: systemClock,
    objects,
  };
  const storage = new Storage(ctx, new StorageEvents(relay));
  const subs = await startMessaging(rt.bus, logger, {
    queue: QUEUE,
    handlers: handlers(storage),
    consumers: consumers(storage, config),
  }).catch(async (err) => {
    await stopAll([], relay, database);
    await objects.close?.();
    throw err;
  });

  return {
    name: SERVICE,
    checks: {
      database: () => database.ping(),
      objectStore: () => objects.ping(),
    },
    async stop() {
      await stopAll(subs, relay, database);
      await objects.close?.();
    },
  };
};
