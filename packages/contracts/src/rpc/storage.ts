import { z } from 'zod';
import { defineRpc } from './index.js';

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
