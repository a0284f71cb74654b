import { z } from 'zod';
import {
  AnalysisMetadata,
  AnalysisResult,
  AnalysisStatus,
  AnalyzeOptions,
  Recommendation,
  TradingStyle,
  Trend,
} from '../rest/analysis.js';
import { Interval } from '../rest/chart-config.js';
import { QuotaCounter } from '../rest/common.js';
import { defineRpc, WorkKey } from './index.js';

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

const Timestamp = z.iso.datetime({ offset: true });

/** Why an analysis failed: a machine-readable code and a sentence for people. */
export const AnalysisFailure = z.object({ code: z.string(), reason: z.string() });
export type AnalysisFailure = z.infer<typeof AnalysisFailure>;

/** One analysis as analysis-service keeps it. Progress timestamps are null until reached. */
export const AnalysisRecord = z.object({
  id: z.uuid(),
  chartId: z.uuid(),
  userId: z.uuid(),
  status: AnalysisStatus,
  symbol: z.string(),
  interval: Interval,
  prompt: z.string().nullable(),
  options: z.object({
    includeRiskManagement: z.boolean(),
    tradingStyle: TradingStyle,
    confidenceThreshold: z.number().int().min(1).max(10).nullable(),
  }),
  /** Set when completed. */
  result: AnalysisResult.nullable(),
  metadata: AnalysisMetadata.nullable(),
  /** Set when failed. */
  error: AnalysisFailure.nullable(),
  createdAt: Timestamp,
  downloadingAt: Timestamp.nullable(),
  analysingAt: Timestamp.nullable(),
  completedAt: Timestamp.nullable(),
});
export type AnalysisRecord = z.infer<typeof AnalysisRecord>;

/** A list row: the record without the long text. */
export const AnalysisBrief = AnalysisRecord.pick({
  id: true,
  chartId: true,
  status: true,
  symbol: true,
  interval: true,
  createdAt: true,
  completedAt: true,
}).extend({
  trend: Trend.nullable(),
  recommendation: Recommendation.nullable(),
  confidence: z.number().int().min(1).max(10).nullable(),
});
export type AnalysisBrief = z.infer<typeof AnalysisBrief>;

/**
 * Queues an analysis of the caller's chart: checks ownership (NOT_FOUND), reserves one unit of
 * the analyses quota (QUOTA_EXCEEDED) and answers at once with the new analysis' id. Progress and
 * the outcome follow as `analysis.progressed`, `analysis.completed` / `analysis.failed` events.
 */
export const AnalysisRequest = defineRpc(
  'svc.analysis.request',
  z.object({
    userId: z.uuid(),
    chartId: z.uuid(),
    prompt: z.string().max(4000).nullable().default(null),
    options: AnalyzeOptions,
    /** With a key already used for this user: the analysis it created, not a new one. */
    idempotencyKey: WorkKey,
  }),
  z.object({
    analysisId: z.uuid(),
    status: AnalysisStatus,
    /** The caller's analyses quota with this analysis counted. */
    quota: QuotaCounter,
  }),
);

export const AnalysisGet = defineRpc(
  'svc.analysis.get',
  z.object({ userId: z.uuid(), analysisId: z.uuid() }),
  AnalysisRecord,
);

export const AnalysisList = defineRpc(
  'svc.analysis.list',
  z.object({
    userId: z.uuid(),
    chartId: z.uuid().optional(),
    limit: z.number().int().min(1).max(100).default(50),
    offset: z.number().int().min(0).default(0),
  }),
  z.object({ analyses: z.array(AnalysisBrief), total: z.number().int().nonnegative() }),
);
