import { z } from 'zod';

/** `GET /v1/charts/:id/export?format=` */
export const ChartExportQuery = z.object({ format: z.enum(['pdf', 'svg', 'png', 'json']) });
export type ChartExportQuery = z.infer<typeof ChartExportQuery>;

/** `GET /v1/analyses/:id/export?format=` */
export const AnalysisExportQuery = z.object({ format: z.enum(['pdf', 'json']) });
export type AnalysisExportQuery = z.infer<typeof AnalysisExportQuery>;

const Instant = z.iso
  .datetime({ offset: true })
  .or(z.iso.date())
  .describe('an ISO 8601 date or date-time; a date means its first instant, UTC');

/** `GET /v1/analyses/export` and `GET /v1/charts/export`: the caller's history as CSV. */
export const HistoryExportQuery = z
  .object({
    format: z.literal('csv'),
    /** Created at or after this instant. */
    from: Instant.optional(),
    /** Created before this instant. */
    to: Instant.optional(),
    /** Part of the symbol, e.g. `BTCUSDT`. */
    symbol: z.string().trim().min(1).max(64).optional(),
  })
  .refine((q) => !q.from || !q.to || Date.parse(q.from) <= Date.parse(q.to), {
    path: ['from'],
    message: 'must not be after `to`',
  });
export type HistoryExportQuery = z.infer<typeof HistoryExportQuery>;
