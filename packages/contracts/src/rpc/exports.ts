import { z } from 'zod';
import { defineRpc } from './index.js';

const Timestamp = z.iso.datetime({ offset: true });

/** Where the next page starts: the last row of the previous one (newest first). */
export const ExportCursor = z.object({ createdAt: Timestamp, id: z.uuid() });
export type ExportCursor = z.infer<typeof ExportCursor>;

/** The filters of a history export, and one page's place in it. */
const ExportPageRequest = z.object({
  userId: z.uuid(),
  from: Timestamp.optional(),
  to: Timestamp.optional(),
  symbol: z.string().max(64).optional(),
  after: ExportCursor.optional(),
  /** Rows are small (no text): a page of 1000 stays far below NATS's 1 MB message limit. */
  limit: z.number().int().min(1).max(1000).default(500),
});

/**
 * A built-in chart drawn again from its stored config and bar window, as SVG (text) or PNG
 * (base64); a chart-img.com chart has neither (CONFLICT).
 */
export const ChartRender = defineRpc(
  'svc.chart.render',
  z.object({ userId: z.uuid(), chartId: z.uuid(), format: z.enum(['svg', 'png']) }),
  z.object({ data: z.string(), encoding: z.enum(['utf8', 'base64']), contentType: z.string() }),
);

export const ChartExportRow = z.object({
  id: z.uuid(),
  createdAt: Timestamp,
  symbol: z.string(),
  symbols: z.array(z.string()),
  interval: z.string(),
  renderer: z.string(),
  format: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  synthetic: z.boolean(),
  status: z.string(),
  analysesCount: z.number().int(),
});
export type ChartExportRow = z.infer<typeof ChartExportRow>;

/** One page of the caller's charts, newest first, for a streamed CSV export. */
export const ChartExportPage = defineRpc(
  'svc.chart.export_page',
  ExportPageRequest,
  z.object({ rows: z.array(ChartExportRow), next: ExportCursor.nullable() }),
);

export const AnalysisExportRow = z.object({
  id: z.uuid(),
  createdAt: Timestamp,
  chartId: z.uuid(),
  symbol: z.string(),
  interval: z.string(),
  status: z.string(),
  model: z.string().nullable(),
  // As stored: the export writes what is there rather than fail on an unexpected value.
  trend: z.string().nullable(),
  recommendation: z.string().nullable(),
  entryPrice: z.number().nullable(),
  stopLoss: z.number().nullable(),
  takeProfit: z.number().nullable(),
  riskRewardRatio: z.number().nullable(),
  confidence: z.number().int().nullable(),
});
export type AnalysisExportRow = z.infer<typeof AnalysisExportRow>;

/** One page of the caller's analyses, newest first, for a streamed CSV export. */
export const AnalysisExportPage = defineRpc(
  'svc.analysis.export_page',
  ExportPageRequest,
  z.object({ rows: z.array(AnalysisExportRow), next: ExportCursor.nullable() }),
);
