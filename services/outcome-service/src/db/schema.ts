import type { Interval, OutcomeStatus, Recommendation, TradingStyle } from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

/** One followed analysis: its signal, where its bars came from, and how it played out so far. */
export interface OutcomeTable {
  analysis_id: string;
  user_id: string;
  chart_id: string;
  symbol: string;
  interval: Interval;
  trading_style: TradingStyle;
  model: string;
  recommendation: Recommendation;
  entry_price: number | null;
  stop_loss: number | null;
  take_profit: number | null;
  confidence: number;
  horizon_bars: number;
  /** The market-data source of the chart's bars (`file:…`, `binance`): the bars after come from it too. */
  bars_source: string;
  /** Open time of the last bar the analyst saw. */
  signal_at: Date;
  /** Its close; null until the first check has read it. */
  signal_close: number | null;
  status: OutcomeStatus;
  filled_at: Date | null;
  exit_at: Date | null;
  exit_price: number | null;
  r_multiple: number | null;
  bars_held: number | null;
  forward_return: number | null;
  resolved_at: Date | null;
  /** Still to check: open, or its forward return not known yet. */
  pending: boolean;
  checked_at: Date | null;
  created_at: Generated<Date>;
}

export interface OutcomeDb extends KitTables {
  outcomes: OutcomeTable;
}
