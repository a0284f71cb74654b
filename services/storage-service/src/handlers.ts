import { StorageChartObjects } from '@chartwright/contracts';
import { handle, type RpcRoute } from '@chartwright/kit';
import type { Storage } from './storage.js';

/** Each request/reply contract storage-service answers, and the use case that answers it. */
export const handlers = (storage: Storage): RpcRoute[] => [
  handle(StorageChartObjects, async (req) => ({
    objects: await storage.listChartObjects(req.chartId, req.userId),
  })),
];
