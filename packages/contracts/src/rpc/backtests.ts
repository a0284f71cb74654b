import { z } from 'zod';
import { Backtest, BacktestBrief, BacktestTrade, CreateBacktestRequest } from '../rest/backtests.js';
import { ChartConfig } from '../rest/chart-config.js';
import { defineRpc, WorkKey } from './index.js';

const Caller = z.object({ userId: z.uuid() });
const BacktestRef = Caller.extend({ backtestId: z.uuid() });

/**
 * Checks the span against the data and the step bounds (VALIDATION_ERROR naming the field),
 * reserves the analyses quota (QUOTA_EXCEEDED) and queues the job. Answers the backtest without trades.
 */
export const BacktestCreate = defineRpc(
  'svc.analysis.backtest_create',
  Caller.extend({
    request: CreateBacktestRequest,
    /** With a key already used for this user: the backtest it created, not a new one. */
    idempotencyKey: WorkKey,
  }),
  Backtest,
);

/** The caller's backtest with its scorecard and baselines; `trades` is empty (see BacktestTrades). */
export const BacktestGet = defineRpc('svc.analysis.backtest_get', BacktestRef, Backtest);

/** A page of a backtest's trades in step order (a long backtest's trades outgrow one NATS message). */
export const BacktestTrades = defineRpc(
  'svc.analysis.backtest_trades',
  BacktestRef.extend({
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(1000),
  }),
  z.object({ trades: z.array(BacktestTrade), total: z.number().int().nonnegative() }),
);

export const BacktestList = defineRpc(
  'svc.analysis.backtest_list',
  Caller.extend({
    limit: z.number().int().min(1).max(100).default(50),
    offset: z.number().int().min(0).default(0),
  }),
  z.object({ backtests: z.array(BacktestBrief), total: z.number().int().nonnegative() }),
);

/** Stops a queued or running backtest (a finished one answers CONFLICT). */
export const BacktestCancel = defineRpc('svc.analysis.backtest_cancel', BacktestRef, Backtest);

export const BacktestDelete = defineRpc(
  'svc.analysis.backtest_delete',
  BacktestRef,
  z.object({ deleted: z.literal(true) }),
);

/**
 * Bars drawn by the built-in renderer without making a chart: nothing is stored, charged or added
 * to anyone's history (a backtest's historical charts for a model, an equity curve). `label`
 * replaces the symbol in the title; `valueLabel` makes the header read a value, not a price. PNG comes base64-encoded, SVG as text.
 */
export const ChartRenderBars = defineRpc(
  'svc.chart.render_bars',
  z.object({
    config: ChartConfig,
    bars: z
      .array(
        z.object({
          time: z.number(),
          open: z.number(),
          high: z.number(),
          low: z.number(),
          close: z.number(),
          volume: z.number(),
        }),
      )
      .min(1)
      .max(6000),
    /** Bars shown, counted from the newest (the older ones warm the indicators up); default all. */
    visibleBars: z.number().int().positive().optional(),
    label: z.string().max(100).optional(),
    /** One value per bar (an equity curve): the header shows `<valueLabel> <last value>`, not OHLC. */
    valueLabel: z.string().max(20).optional(),
  }),
  z.object({ data: z.string(), encoding: z.enum(['utf8', 'base64']), contentType: z.string() }),
);
