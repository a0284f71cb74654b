import type { AnalysisResult, AnalysisStatus } from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export interface AnalysisTable {
  id: string;
  chart_id: string;
  user_id: string;
  status: AnalysisStatus;
  prompt: string | null;
  trading_style: string;
  include_risk_management: boolean;
  confidence_threshold: number | null;
  reservation_id: string | null;
  result: AnalysisResult | null;
  recommendation: string | null;
  confidence: number | null;
  model: string | null;
  tokens_used: number | null;
  cost_usd: number | null;
  processing_ms: number | null;
  error_code: string | null;
  error_reason: string | null;
  created_at: Generated<Date>;
  completed_at: Date | null;
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
  deleted: Generated<boolean>;
}

export interface AnalysisDb extends KitTables {
  analyses: AnalysisTable;
  known_charts: KnownChartTable;
}
