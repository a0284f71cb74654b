import { z } from 'zod';
import { defineRpc } from './index.js';

/**
 * Deletes a chart's objects and their records now, so no read succeeds after the chart's
 * DELETE returns (`chart.deleted` does the same again, idempotently, for anything missed).
 */
export const StorageDeleteChart = defineRpc(
  'svc.storage.delete_chart',
  z.object({ chartId: z.uuid(), userId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);
