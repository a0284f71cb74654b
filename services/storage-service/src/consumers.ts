import { ChartDeleted, ChartGenerated } from '@chartwright/contracts';
import { type ConsumerGroup, on } from '@chartwright/kit';
import type { StorageConfig } from './config.js';
import { CHARTS_CONSUMER, type Storage } from './storage.js';

/** The events storage-service consumes, by durable consumer. */
export const consumers = (storage: Storage, config: StorageConfig): ConsumerGroup[] => [
  {
    spec: {
      stream: 'CHARTS',
      durable: CHARTS_CONSUMER,
      filterSubject: ChartGenerated.type,
      concurrency: config.concurrency,
      // A download may take its whole deadline before the handler answers.
      ackWaitMs: config.download.timeoutMs + 30_000,
    },
    routes: [on(ChartGenerated, (e) => storage.chartGenerated(e.id, e.data))],
  },
  {
    spec: { stream: 'CHARTS', durable: 'storage-deletes', filterSubject: ChartDeleted.type },
    routes: [
      on(ChartDeleted, async (e) => {
        await storage.deleteChart(e.data.chartId, e.data.userId, e.data.objectKeys);
      }),
    ],
  },
];
