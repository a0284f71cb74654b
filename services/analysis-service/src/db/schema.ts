import type {
  AnalysisResult,
  AnalysisStatus,
  BacktestAnalyst,
  BacktestBaselines,
  BacktestStatus,
  BarWindow,
  Confluence,
  Interval,
  MultiTimeframeStatus,
  Recommendation,
  TradingStyle,
} from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Outcome } from '@chartwright/outcomes';
import type { Generated } from 'kysely';

export interface AnalysisTable {
  id: string;
  chart_id: string;
  user_id: string;
  status: AnalysisStatus;
  prompt: string | null;
  trading_style: TradingStyle;
  include_risk_management: boolean;
  confidence_threshold: number | null;
  reservation_id: string | null;
  result: AnalysisResult | null;
  recommendation: Recommendation | null;
  confidence: number | null;
  model: string | null;
  tokens_used: number | null;
  cost_usd: number | null;
  processing_ms: number | null;
  error_code: string | null;
  error_reason: string | null;
  created_at: Generated<Date>;
  completed_at: Date | null;
  symbol: Generated<string>;
  interval: Generated<Interval>;
  downloading_at: Date | null;
  analysing_at: Date | null;
  /** Deliveries of the job so far. */
  attempts: Generated<number>;
  /** When the latest delivery claimed the job. */
  claimed_at: Date | null;
  /** The gateway's work id of the request that made it (a retry finds the analysis by it). */
  idempotency_key: Generated<string | null>;
}

/** What analysis-service knows of charts, learnt from chart events. */
export interface KnownChartTable {
  chart_id: string;
  user_id: string;
  symbol: string;
  interval: string;
  object_key: string | null;
  external_url: string | null;
  config: unknown;
  /** Tombstone: the chart was deleted; a late `chart.generated` does not bring it back. */
  deleted: Generated<boolean>;
  synthetic: Generated<boolean>;
  content_type: string | null;
  size: number | null;
  generated_at: Generated<Date>;
  /** The bars the chart was drawn from; null for chart-img.com charts and older rows. */
  bars: BarWindow | null;
}

/** A multi-timeframe run; its analyses are rows of `analyses`, listed in `multi_timeframe_items`. */
export interface MultiTimeframeRunTable {
  id: string;
  user_id: string;
  symbol: string;
  status: MultiTimeframeStatus;
  /** Set when every analysis is final. */
  confluence: Confluence | null;
  idempotency_key: string | null;
  created_at: Generated<Date>;
  completed_at: Date | null;
}

export interface MultiTimeframeItemTable {
  analysis_id: string;
  run_id: string;
  /** The interval's place in the request. */
  position: number;
  interval: Interval;
  chart_id: string;
}

/** A backtest: a durable job replaying an analyst over a historical span. */
export interface BacktestTable {
  id: string;
  user_id: string;
  status: BacktestStatus;
  symbol: string;
  interval: Interval;
  from_at: Date;
  to_at: Date;
  step: number;
  analyst: BacktestAnalyst;
  model: string;
  trading_style: TradingStyle;
  prompt: string | null;
  /** Bars each signal is followed for. */
  horizon: number;
  /** The random baseline's seed. */
  seed: number;
  total: number;
  done: Generated<number>;
  reservation_id: string | null;
  analyses_charged: Generated<number>;
  /** Transient failures in a row; reset by each saved batch of steps. */
  retries: Generated<number>;
  baselines: BacktestBaselines | null;
  error_code: string | null;
  error_reason: string | null;
  /** The worker running it, trusted until `lease_until`. */
  leased_by: string | null;
  lease_until: Date | null;
  /** The gateway's work id of the request that made it (a retry finds the backtest by it). */
  idempotency_key: string | null;
  created_at: Generated<Date>;
  started_at: Date | null;
  finished_at: Date | null;
}

/** One step of a backtest: what the analyst said and how it played out (its checkpoint). */
export interface BacktestTradeTable {
  backtest_id: string;
  step: number;
  at: Date;
  recommendation: Recommendation;
  entry_price: number | null;
  stop_loss: number | null;
  take_profit: number | null;
  confidence: number;
  /** `Outcome` of packages/outcomes (times in ms). */
  outcome: Outcome;
}

export interface AnalysisDb extends KitTables {
  analyses: AnalysisTable;
  known_charts: KnownChartTable;
  multi_timeframe_runs: MultiTimeframeRunTable;
  multi_timeframe_items: MultiTimeframeItemTable;
  backtests: BacktestTable;
  backtest_trades: BacktestTradeTable;
}
