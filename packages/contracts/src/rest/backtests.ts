import { z } from 'zod';
import { Recommendation, TradingStyle } from './analysis.js';
import { Interval, MarketSymbol } from './chart-config.js';
import { PageQuery, Pagination, Uuid } from './common.js';
import { OutcomeStatus, Scorecard } from './outcomes.js';

const Timestamp = z.iso.datetime({ offset: true });

/** Who reads each historical chart: the built-in analyst, or the configured Anthropic model. */
export const BacktestAnalyst = z.enum(['builtin', 'anthropic']);
export type BacktestAnalyst = z.infer<typeof BacktestAnalyst>;

export const BacktestStatus = z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']);
export type BacktestStatus = z.infer<typeof BacktestStatus>;

/** Steps one backtest may take, by analyst. */
export const MAX_BACKTEST_STEPS: Readonly<Record<BacktestAnalyst, number>> = {
  builtin: 5000,
  anthropic: 200,
};

/** `POST /v1/backtests`. */
export const CreateBacktestRequest = z.object({
  symbol: MarketSymbol,
  interval: Interval,
  /** The first analysis reads the chart ending at the first bar opening at or after `from`. */
  from: Timestamp,
  /** Analyses stop before the bar opening at `to`; outcomes may read bars after it. */
  to: Timestamp,
  /** Bars between two analyses. */
  step: z.number().int().min(1).max(10_000),
  analyst: BacktestAnalyst,
  tradingStyle: TradingStyle.default('swing_trading'),
  /** Passed to a model analyst as the user's prompt; the built-in analyst ignores it. */
  prompt: z.string().max(4000).nullable().default(null),
});
export type CreateBacktestRequest = z.infer<typeof CreateBacktestRequest>;

/** One analysis of a backtest and how its signal played out (`at`: open time of the last bar read). */
export const BacktestTrade = z.object({
  step: z.number().int().nonnegative(),
  at: Timestamp,
  recommendation: Recommendation,
  entryPrice: z.number().nullable(),
  stopLoss: z.number().nullable(),
  takeProfit: z.number().nullable(),
  confidence: z.number().int().min(1).max(10),
  outcome: OutcomeStatus,
  rMultiple: z.number().nullable(),
  filledAt: Timestamp.nullable(),
  exitAt: Timestamp.nullable(),
  exitPrice: z.number().nullable(),
  barsHeld: z.number().int().nullable(),
  forwardReturn: z.number().nullable(),
});
export type BacktestTrade = z.infer<typeof BacktestTrade>;

/** What the same windows give without the analyst. */
export const BacktestBaselines = z.object({
  /** Close at the last step over close at the first, − 1. */
  buyAndHold: z.object({ return: z.number() }),
  /** As many trades at random steps, the same side mix and stop/target distances; `seed` reproduces it. */
  random: z.object({ seed: z.number().int(), scorecard: Scorecard }),
});
export type BacktestBaselines = z.infer<typeof BacktestBaselines>;

/** A backtest without its trades (list rows). */
export const BacktestBrief = z.object({
  id: Uuid,
  status: BacktestStatus,
  symbol: z.string(),
  interval: Interval,
  from: Timestamp,
  to: Timestamp,
  step: z.number().int(),
  analyst: BacktestAnalyst,
  model: z.string(),
  tradingStyle: TradingStyle,
  prompt: z.string().nullable(),
  progress: z.object({ done: z.number().int().nonnegative(), total: z.number().int().nonnegative() }),
  /** Analyses charged to the quota: 1 for the built-in analyst, one per step done with a model. */
  analysesCharged: z.number().int().nonnegative(),
  error: z.object({ code: z.string(), reason: z.string() }).nullable(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
});
export type BacktestBrief = z.infer<typeof BacktestBrief>;

/** `data` of `GET /v1/backtests/:id` (and of the 202 that created it). */
export const Backtest = BacktestBrief.extend({
  /** Over the trades so far (same shape as `GET /v1/scorecard`). */
  scorecard: Scorecard,
  /** Set once completed. */
  baselines: BacktestBaselines.nullable(),
  trades: z.array(BacktestTrade),
});
export type Backtest = z.infer<typeof Backtest>;

export const BacktestListQuery = PageQuery;
export const BacktestListResponse = z.object({ backtests: z.array(BacktestBrief), pagination: Pagination });
export type BacktestListResponse = z.infer<typeof BacktestListResponse>;

export const EquityQuery = z.object({ format: z.enum(['png', 'svg']).default('png') });

/** `data` of each Server-Sent Event of `GET /v1/backtests/:id/events`; the event name is the status. */
export const BacktestProgressEvent = z.object({
  backtestId: Uuid,
  status: BacktestStatus,
  done: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  at: Timestamp,
});
export type BacktestProgressEvent = z.infer<typeof BacktestProgressEvent>;
