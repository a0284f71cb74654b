import type { BarWindow, ChartConfig } from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export type ChartStatus = 'ready' | 'stored' | 'expired';

export interface ChartTable {
  id: string;
  user_id: string;
  symbol: string;
  interval: string;
  range: string | null;
  theme: string;
  config: ChartConfig;
  renderer: 'builtin' | 'chart-img';
  format: 'png' | 'svg';
  width: number;
  height: number;
  /** Our object store key, once the image is ours. */
  object_key: string | null;
  /** chart-img.com CDN link until storage-service has copied it. */
  external_url: string | null;
  status: ChartStatus;
  synthetic: boolean;
  analyses_count: Generated<number>;
  created_at: Generated<Date>;
  expires_at: Date | null;
  /** The gateway's work id of the request that made it (a retry finds the chart by it). */
  idempotency_key: Generated<string | null>;
  /** The bars the built-in renderer drew (first symbol of a comparison); null for chart-img.com charts. */
  bars: BarWindow | null;
}

export interface TemplateTable {
  id: string;
  user_id: string;
  name: string;
  config: unknown;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
}

export interface ChartImgUsageTable {
  /** A hash of the chart-img.com API key. */
  account: string;
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  requests: number;
}

export interface ChartDb extends KitTables {
  charts: ChartTable;
  chart_img_usage: ChartImgUsageTable;
  templates: TemplateTable;
}
