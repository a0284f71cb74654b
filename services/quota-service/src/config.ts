import { env, parseEnv } from '@chartwright/kit';
import { z } from 'zod';
import { PlanOverrides, withOverrides } from './plans.js';

const QuotaEnv = z.object({
  /** JSON overriding some plans' limits, e.g. {"pro":{"analyses":80}}; the others keep the defaults. */
  QUOTA_PLANS_JSON: env.json(PlanOverrides).optional(),
  /** Seconds before an uncommitted reservation is given back. */
  QUOTA_RESERVATION_TTL_SECONDS: env.int(300, 1, 86_400),
  /** How often expired reservations are swept. */
  QUOTA_SWEEP_INTERVAL_MS: env.int(10_000, 50, 3_600_000),
});

export function loadQuotaConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(QuotaEnv, source);
  return {
    plans: withOverrides(e.QUOTA_PLANS_JSON),
    reservationTtlSeconds: e.QUOTA_RESERVATION_TTL_SECONDS,
    sweepIntervalMs: e.QUOTA_SWEEP_INTERVAL_MS,
  };
}
export type QuotaConfig = ReturnType<typeof loadQuotaConfig>;
