import { z } from 'zod';
import {
  AnalysisMetadata,
  AnalysisResult,
  AnalysisStatus,
  AnalyzeOptions,
  Recommendation,
  Trend,
} from '../rest/analysis.js';
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

/** Removes a chart's analyses now, so none can be read after the chart's DELETE returns. */
export const AnalysisPurgeChart = defineRpc(
  'svc.analysis.purge_chart',
  z.object({ chartId: z.uuid(), userId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
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
  interval: z.string(),
  prompt: z.string().nullable(),
  options: z.object({
    includeRiskManagement: z.boolean(),
    tradingStyle: z.string(),
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
 * the analyses quota (QUOTA_EXCEEDED) and answers with the new analysis' id.
 */
export const AnalysisRequest = defineRpc(
  'svc.analysis.request',
  z.object({
    userId: z.uuid(),
    chartId: z.uuid(),
    prompt: z.string().max(4000).nullable().default(null),
    options: AnalyzeOptions,
    /** Answer once the analysis is finished or this many ms have passed (0: at once). */
    waitMs: z.number().int().min(0).max(60_000).default(0),
    /** With a key already used for this user: the analysis it created, not a new one. */
    idempotencyKey: WorkKey,
  }),
  z.object({
    analysisId: z.uuid(),
    status: AnalysisStatus,
    /** The caller's analyses quota with this analysis counted. */
    quota: QuotaCounter,
    /** With `waitMs`: the analysis as it stands at the answer. */
    record: AnalysisRecord.optional(),
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

/**
 * Answers when the analysis is finished (`until: 'done'`) or its status differs from `known`
 * (`until: 'change'`), or when `timeoutMs` runs out, with the record as it then is. Lets the
 * gateway wait for a result, or stream progress, without polling.
 */
export const AnalysisWait = defineRpc(
  'svc.analysis.wait',
  z.object({
    userId: z.uuid(),
    analysisId: z.uuid(),
    until: z.enum(['done', 'change']).default('done'),
    known: AnalysisStatus.optional(),
    timeoutMs: z.number().int().min(0).max(60_000),
  }),
  AnalysisRecord,
);
