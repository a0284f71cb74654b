import { z } from 'zod';
import { AnalysisStatus, Recommendation } from '../rest/analysis.js';
import { defineRpc } from './index.js';

/** A chart's analyses in brief, for `GET /v1/charts/:id` (design document). */
export const AnalysisSummary = z.object({
  id: z.uuid(),
  status: AnalysisStatus,
  recommendation: Recommendation.nullable(),
  confidence: z.number().int().min(1).max(10).nullable(),
  createdAt: z.iso.datetime({ offset: true }),
});
export type AnalysisSummary = z.infer<typeof AnalysisSummary>;

export const AnalysisListForChart = defineRpc(
  'svc.analysis.list_for_chart',
  z.object({ chartId: z.uuid(), userId: z.uuid(), limit: z.number().int().min(1).max(100).default(50) }),
  z.object({ analyses: z.array(AnalysisSummary) }),
);

/** Removes a chart's analyses now, so none can be read after the chart's DELETE returns. */
export const AnalysisPurgeChart = defineRpc(
  'svc.analysis.purge_chart',
  z.object({ chartId: z.uuid(), userId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);
