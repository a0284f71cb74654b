import { env, parseEnv } from '@chartwright/kit';
import { z } from 'zod';
import { DEFAULT_PLANS, PlanLimits } from './plans.js';

const QuotaEnv = z.object({
  /** JSON overriding plan limits, e.g. {"free":{"charts":5,"analyses":3},...}. */
  QUOTA_PLANS_JSON: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(PlanLimits)
    .optional(),
  /** Seconds before an uncommitted reservation is given back. */
  QUOTA_RESERVATION_TTL_SECONDS: env.int(300, 1, 86_400),
  /** How often expired reservations are swept. */
  QUOTA_SWEEP_INTERVAL_MS: env.int(10_000, 50, 3_600_000),
});

export function loadQuotaConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(QuotaEnv, source);
  return {
    plans: e.QUOTA_PLANS_JSON ?? DEFAULT_PLANS,
    reservationTtlSeconds: e.QUOTA_RESERVATION_TTL_SECONDS,
    sweepIntervalMs: e.QUOTA_SWEEP_INTERVAL_MS,
  };
}
export type QuotaConfig = ReturnType<typeof loadQuotaConfig>;
