import type { Plan, QuotaKind } from '@chartwright/contracts';
import type { KitTables } from '@chartwright/kit';
import type { Generated } from 'kysely';

export interface UserQuotaTable {
  user_id: string;
  plan: Plan;
  charts_used: number;
  analyses_used: number;
  /** First instant (UTC) of the month the counters belong to. */
  period_start: Date;
  /** When the plan was last set (null: the signup default). */
  plan_set_at: Date | null;
  updated_at: Generated<Date>;
}

/** `expired`: released by the sweeper because its flow went quiet; a late commit still charges it. */
export type ReservationState = 'held' | 'committed' | 'released' | 'expired';

export interface ReservationTable {
  id: string;
  user_id: string;
  kind: QuotaKind;
  amount: number;
  state: ReservationState;
  period_start: Date;
  expires_at: Date;
  created_at: Generated<Date>;
  settled_at: Date | null;
}

/** The design document's `api_usage` ledger. */
export interface ApiUsageTable {
  id: string;
  user_id: string;
  endpoint: string;
  method: string;
  status_code: number;
  /** Requests the row stands for (a batch), 1 for a single request. */
  requests: Generated<number>;
  /** Sum of the requests' durations. */
  duration_ms: number;
  /** The slowest of them (batches only). */
  duration_ms_max: number | null;
  charts_generated: number;
  analyses_performed: number;
  tokens_used: number;
  created_at: Date;
}

/** `quota.threshold_reached` sent: once per user, resource, threshold and month. */
export interface ThresholdNoticeTable {
  user_id: string;
  resource: QuotaKind;
  threshold: number;
  period_start: Date;
  created_at: Generated<Date>;
}

export interface QuotaDb extends KitTables {
  threshold_notices: ThresholdNoticeTable;
  user_quotas: UserQuotaTable;
  reservations: ReservationTable;
  api_usage: ApiUsageTable;
}
