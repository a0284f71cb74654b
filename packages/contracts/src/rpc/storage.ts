import { z } from 'zod';
import { defineRpc } from './index.js';

/**
 * Deletes a chart's objects and their records now, so no read succeeds after the chart's
 * DELETE returns (`chart.deleted` does the same again, idempotently, for anything missed).
 * Only the records owned by `userId` are touched; `deleted` counts the records removed.
 */
export const StorageDeleteChart = defineRpc(
  'svc.storage.delete_chart',
  z.object({ chartId: z.uuid(), userId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);

/** An object storage-service keeps: where it is, what it is, whose it is. */
export const StoredObjectRecord = z.object({
  key: z.string(),
  chartId: z.uuid().nullable(),
  size: z.number().int().nonnegative(),
  sha256: z.string().length(64),
  contentType: z.string(),
  createdAt: z.iso.datetime({ offset: true }),
});
export type StoredObjectRecord = z.infer<typeof StoredObjectRecord>;

/** The objects recorded for a chart of `userId` (none for another user's chart). */
export const StorageChartObjects = defineRpc(
  'svc.storage.chart_objects',
  z.object({ chartId: z.uuid(), userId: z.uuid() }),
  z.object({ objects: z.array(StoredObjectRecord) }),
);
