import { z } from 'zod';
import { Recommendation, TradingStyle } from './analysis.js';
import { Interval } from './chart-config.js';

const Timestamp = z.iso.datetime({ offset: true });

export const OutcomeStatus = z.enum(['open', 'won', 'lost', 'expired', 'no_trade']);
export type OutcomeStatus = z.infer<typeof OutcomeStatus>;

/** `data` of `GET /v1/analyses/:id/outcome`: how the analysis's signal played out on the bars after its chart. */
export const AnalysisOutcome = z.object({
  analysisId: z.uuid(),
  status: OutcomeStatus,
  recommendation: Recommendation,
  symbol: z.string(),
  interval: Interval,
  tradingStyle: TradingStyle,
  entryPrice: z.number().nullable(),
  stopLoss: z.number().nullable(),
  takeProfit: z.number().nullable(),
  confidence: z.number().int().min(1).max(10),
  /** Bars the signal is followed for before it expires. */
  horizonBars: z.number().int().positive(),
  /** Open time of the bar the entry filled in. */
  filledAt: Timestamp.nullable(),
  /** Open time of the bar the trade ended in. */
  exitAt: Timestamp.nullable(),
  exitPrice: z.number().nullable(),
  /** (exit − entry) / (entry − stop) for LONG, mirrored for SHORT; null for no trade or an unfilled entry. */
  rMultiple: z.number().nullable(),
  barsHeld: z.number().int().nullable(),
  /** Close `horizonBars` after the signal over the close it was made at, minus 1; null until known. */
  forwardReturn: z.number().nullable(),
  /** Close of the last bar the analyst saw (null until first checked), and that bar's open time. */
  signalClose: z.number().nullable(),
  signalAt: Timestamp,
  resolvedAt: Timestamp.nullable(),
  model: z.string(),
});
export type AnalysisOutcome = z.infer<typeof AnalysisOutcome>;

export const CalibrationBucket = z.object({
  confidenceMin: z.number().int(),
  confidenceMax: z.number().int(),
  /** Won and lost trades with a confidence in the bucket. */
  n: z.number().int().nonnegative(),
  winRate: z.number().nullable(),
});

/** The scorecard of a set of followed analyses (see the README's "Outcome tracking"). */
export const Scorecard = z.object({
  signals: z.number().int().nonnegative(),
  resolved: z.number().int().nonnegative(),
  open: z.number().int().nonnegative(),
  wins: z.number().int().nonnegative(),
  losses: z.number().int().nonnegative(),
  expired: z.number().int().nonnegative(),
  noTrade: z.number().int().nonnegative(),
  /** wins / (wins + losses). */
  winRate: z.number().nullable(),
  /** Mean R of the resolved trades that filled. */
  avgR: z.number().nullable(),
  /** R earned per resolved LONG/SHORT signal (an unfilled entry earns 0). */
  expectancy: z.number().nullable(),
  /** Sum of positive R over the sum of negative R. */
  profitFactor: z.number().nullable(),
  /** Largest fall of cumulative R, trades in exit order. */
  maxDrawdownR: z.number(),
  /** LONG over LONG + SHORT signals. */
  longShare: z.number().nullable(),
  calibration: z.array(CalibrationBucket),
  /** Mean of (confidence/10 − won)² over won and lost trades; lower is better, 0.25 is a coin at 5. */
  brierScore: z.number().nullable(),
  /** LONG/SHORT signals whose forward return had their sign. */
  directionAccuracy: z.number().nullable(),
});
export type Scorecard = z.infer<typeof Scorecard>;

/** Filters of a scorecard; `from`/`to` bound the time the signal was made. */
export const ScorecardQuery = z.object({
  model: z.string().min(1).max(100).optional(),
  symbol: z.string().min(1).max(50).optional(),
  interval: Interval.optional(),
  tradingStyle: TradingStyle.optional(),
  from: Timestamp.optional(),
  to: Timestamp.optional(),
});
export type ScorecardQuery = z.infer<typeof ScorecardQuery>;

/** `data` of `GET /v1/admin/scorecard`: every user's analyses, one card per model. */
export const ScorecardByModel = z.object({
  models: z.array(z.object({ model: z.string(), scorecard: Scorecard })),
});
export type ScorecardByModel = z.infer<typeof ScorecardByModel>;
