import { z } from 'zod';
import { QuotaCounter, Uuid } from './common.js';

export const Trend = z.enum(['bullish', 'bearish', 'neutral']);
export type Trend = z.infer<typeof Trend>;

export const Recommendation = z.enum(['LONG', 'SHORT', 'NEUTRAL']);
export type Recommendation = z.infer<typeof Recommendation>;

export const TradingStyle = z.enum(['scalping', 'day_trading', 'swing_trading', 'position_trading']);
export type TradingStyle = z.infer<typeof TradingStyle>;

export const AnalysisStatus = z.enum(['queued', 'downloading', 'analysing', 'completed', 'failed']);
export type AnalysisStatus = z.infer<typeof AnalysisStatus>;

export const AnalyzeOptions = z.object({
  includeRiskManagement: z.boolean().default(true),
  tradingStyle: TradingStyle.default('swing_trading'),
  /** 1..10: below it the recommendation becomes NEUTRAL. */
  confidenceThreshold: z.number().int().min(1).max(10).optional(),
});
export type AnalyzeOptions = z.infer<typeof AnalyzeOptions>;

/** Body of `POST /v1/charts/:id/analyze`. */
export const AnalyzeRequest = z.object({
  prompt: z.string().max(4000).optional(),
  options: AnalyzeOptions.default({ includeRiskManagement: true, tradingStyle: 'swing_trading' }),
});
export type AnalyzeRequest = z.infer<typeof AnalyzeRequest>;

export const KeyLevels = z.object({
  support: z.array(z.number()).max(10),
  resistance: z.array(z.number()).max(10),
});
export type KeyLevels = z.infer<typeof KeyLevels>;

/**
 * What an analyst (a model or the built-in one) must return. Prices are in the quote currency.
 * `riskRewardRatio` is not part of it: the service computes it.
 */
export const AnalystOutput = z.object({
  trend: Trend,
  signals: z.array(z.string().min(1).max(500)).max(20),
  recommendation: Recommendation,
  entryPrice: z.number().positive().nullable(),
  stopLoss: z.number().positive().nullable(),
  takeProfit: z.number().positive().nullable(),
  /** 1 (no conviction) to 10 (very high). */
  confidence: z.number().int().min(1).max(10),
  analysisText: z.string().min(1).max(20_000),
  keyLevels: KeyLevels,
});
export type AnalystOutput = z.infer<typeof AnalystOutput>;

/** What the analysis of a comparison chart measured, over the bars the symbols share. */
export const ComparisonReading = z.object({
  /** Shared bars the figures come from. */
  bars: z.number().int().nonnegative(),
  /** Strongest first: each symbol's return over the window and its beta against the first symbol. */
  symbols: z.array(
    z.object({
      symbol: z.string(),
      rank: z.number().int().positive(),
      /** Return over the window, in percent (relative strength). */
      returnPct: z.number(),
      /** Beta of its bar returns against the first symbol's (1 for the first); null without variance. */
      beta: z.number().nullable(),
    }),
  ),
  /** Pearson correlation of bar returns, per pair of symbols (in request order). */
  correlations: z.array(z.object({ a: z.string(), b: z.string(), correlation: z.number().nullable() })),
});
export type ComparisonReading = z.infer<typeof ComparisonReading>;

/** The stored, grounded signal (design document, `analysis`). */
export const AnalysisResult = AnalystOutput.extend({
  riskRewardRatio: z.number().nonnegative().nullable(),
  /** Problems found by grounding and how they were handled; empty when none. */
  warnings: z.array(z.string()).default([]),
  /** Set for comparison charts: relative strength, correlation and beta. */
  comparison: ComparisonReading.optional(),
});
export type AnalysisResult = z.infer<typeof AnalysisResult>;

export const AnalysisMetadata = z.object({
  model: z.string(),
  tokensUsed: z.number().int().nonnegative(),
  /** Seconds. */
  processingTime: z.number().nonnegative(),
});
export type AnalysisMetadata = z.infer<typeof AnalysisMetadata>;

/** `data` of a completed `POST /v1/charts/:id/analyze`. */
export const AnalyzeResponseData = z.object({
  analysisId: Uuid,
  analysis: AnalysisResult,
  metadata: AnalysisMetadata,
  quota: QuotaCounter,
});
export type AnalyzeResponseData = z.infer<typeof AnalyzeResponseData>;
