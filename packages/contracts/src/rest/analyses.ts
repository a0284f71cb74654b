import { z } from 'zod';
import { AnalysisFailure } from '../rpc/analyses.js';
import {
  AnalysisMetadata,
  AnalysisResult,
  AnalysisStatus,
  Recommendation,
  TradingStyle,
  Trend,
} from './analysis.js';
import { PageQuery, Pagination, Uuid } from './common.js';

const Timestamp = z.iso.datetime({ offset: true });

/** Query of `POST /v1/charts/:id/analyze`: seconds to wait for the result (0 answers 202 at once). */
export const AnalyzeQuery = z.object({
  wait: z.coerce.number().int().min(0).max(60).default(30),
});
export type AnalyzeQuery = z.infer<typeof AnalyzeQuery>;

/** `data` of a 202 from `POST /v1/charts/:id/analyze`: follow `Location` (`/v1/analyses/:id`). */
export const AnalysisAccepted = z.object({ analysisId: Uuid, status: AnalysisStatus });
export type AnalysisAccepted = z.infer<typeof AnalysisAccepted>;

/**
 * `GET /v1/analyses/:id` (design document, "Get Analysis Details"): the signal's fields at the
 * top level once completed, `error` once failed.
 */
export const AnalysisDetail = AnalysisResult.partial().extend({
  id: Uuid,
  chartId: Uuid,
  status: AnalysisStatus,
  symbol: z.string(),
  interval: z.string(),
  prompt: z.string().nullable(),
  options: z.object({
    includeRiskManagement: z.boolean(),
    tradingStyle: TradingStyle.or(z.string()),
    confidenceThreshold: z.number().int().nullable(),
  }),
  metadata: AnalysisMetadata.nullable(),
  error: AnalysisFailure.nullable(),
  createdAt: Timestamp,
  completedAt: Timestamp.nullable(),
});
export type AnalysisDetail = z.infer<typeof AnalysisDetail>;

export const AnalysisDetailResponse = z.object({ analysis: AnalysisDetail });

export const AnalysisListItem = z.object({
  id: Uuid,
  chartId: Uuid,
  status: AnalysisStatus,
  symbol: z.string(),
  interval: z.string(),
  trend: Trend.nullable(),
  recommendation: Recommendation.nullable(),
  confidence: z.number().int().nullable(),
  createdAt: Timestamp,
  completedAt: Timestamp.nullable(),
});
export type AnalysisListItem = z.infer<typeof AnalysisListItem>;

/** `GET /v1/analyses?chartId=&limit=&offset=`. */
export const AnalysisListQuery = PageQuery.extend({ chartId: Uuid.optional() });
export type AnalysisListQuery = z.infer<typeof AnalysisListQuery>;

export const AnalysisListResponse = z.object({
  analyses: z.array(AnalysisListItem),
  pagination: Pagination,
});
export type AnalysisListResponse = z.infer<typeof AnalysisListResponse>;

/**
 * `data` of each Server-Sent Event of `GET /v1/analyses/:id/events`; the SSE `event` name is the
 * status. The last event (`completed` or `failed`) carries the outcome, then the stream ends.
 */
export const AnalysisProgressEvent = z.object({
  analysisId: Uuid,
  status: AnalysisStatus,
  at: Timestamp,
  error: AnalysisFailure.optional(),
  analysis: AnalysisResult.optional(),
  metadata: AnalysisMetadata.optional(),
});
export type AnalysisProgressEvent = z.infer<typeof AnalysisProgressEvent>;
