import { z } from 'zod';
import { AnalysisStatus, Recommendation, TradingStyle, Trend } from './analysis.js';
import { Interval, MarketSymbol, Study } from './chart-config.js';
import { PageQuery, Pagination, QuotaCounter, Uuid } from './common.js';

const Timestamp = z.iso.datetime({ offset: true });

export const MIN_TIMEFRAMES = 2;
export const MAX_TIMEFRAMES = 4;

/** Body of `POST /v1/analyses/multi-timeframe`: one chart and one analysis per interval. */
export const MultiTimeframeRequest = z.object({
  symbol: MarketSymbol,
  intervals: z
    .array(Interval)
    .min(MIN_TIMEFRAMES)
    .max(MAX_TIMEFRAMES)
    .refine((s) => new Set(s).size === s.length, 'must be distinct'),
  /** Studies drawn on every chart. */
  studies: z.array(Study).max(25).optional(),
  tradingStyle: TradingStyle.default('swing_trading'),
  prompt: z.string().max(4000).optional(),
});
export type MultiTimeframeRequest = z.infer<typeof MultiTimeframeRequest>;

export const MultiTimeframeStatus = z.enum(['running', 'completed', 'failed']);
export type MultiTimeframeStatus = z.infer<typeof MultiTimeframeStatus>;

/** One interval of a run: its chart, its analysis and, once completed, the analysis' reading. */
export const MultiTimeframeItem = z.object({
  interval: Interval,
  chartId: Uuid,
  analysisId: Uuid,
  status: AnalysisStatus,
  trend: Trend.nullable(),
  recommendation: Recommendation.nullable(),
  confidence: z.number().int().nullable(),
});
export type MultiTimeframeItem = z.infer<typeof MultiTimeframeItem>;

/**
 * How the intervals agree. The lowest interval sets the direction; its levels are given only when
 * every higher interval agrees with it, otherwise the recommendation is NEUTRAL with null levels.
 */
export const Confluence = z.object({
  recommendation: Recommendation,
  /** Share of the intervals whose recommendation is the lowest interval's, 0..1. */
  agreement: z.number().min(0).max(1),
  /** The intervals that agree with the lowest one (itself included), lowest first. */
  alignedIntervals: z.array(Interval),
  summary: z.string(),
  entryPrice: z.number().nullable(),
  stopLoss: z.number().nullable(),
  takeProfit: z.number().nullable(),
  riskRewardRatio: z.number().nullable(),
});
export type Confluence = z.infer<typeof Confluence>;

/** `GET /v1/analyses/multi-timeframe/:id`; `confluence` is null while running. */
export const MultiTimeframeRun = z.object({
  id: Uuid,
  symbol: z.string(),
  status: MultiTimeframeStatus,
  createdAt: Timestamp,
  completedAt: Timestamp.nullable(),
  items: z.array(MultiTimeframeItem),
  confluence: Confluence.nullable(),
});
export type MultiTimeframeRun = z.infer<typeof MultiTimeframeRun>;

/** `data` of a 200 from `POST /v1/analyses/multi-timeframe`: the run and the caller's quotas. */
export const MultiTimeframeResponseData = MultiTimeframeRun.extend({
  quota: z.object({ charts: QuotaCounter, analyses: QuotaCounter }),
});

/** `data` of a 202: follow `Location` (`/v1/analyses/multi-timeframe/:id`). */
export const MultiTimeframeAccepted = z.object({ id: Uuid, status: MultiTimeframeStatus });

export const MultiTimeframeListQuery = PageQuery;
export const MultiTimeframeListResponse = z.object({
  runs: z.array(MultiTimeframeRun),
  pagination: Pagination,
});
export type MultiTimeframeListResponse = z.infer<typeof MultiTimeframeListResponse>;
