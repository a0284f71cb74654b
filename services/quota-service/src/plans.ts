import { Plan, type QuotaKind } from '@chartwright/contracts';
import { z } from 'zod';

/** Monthly limits per plan; `null` is unlimited. */
export const PlanLimits = z.record(
  Plan,
  z.object({
    charts: z.number().int().nonnegative().nullable(),
    analyses: z.number().int().nonnegative().nullable(),
  }),
);
export type PlanLimits = z.infer<typeof PlanLimits>;

/** The design document's plans: free 5/3, pro 100/50, enterprise unlimited. */
export const DEFAULT_PLANS: PlanLimits = {
  free: { charts: 5, analyses: 3 },
  pro: { charts: 100, analyses: 50 },
  enterprise: { charts: null, analyses: null },
};

export const limitFor = (plans: PlanLimits, plan: Plan, kind: QuotaKind): number | null => plans[plan][kind];

/** Periods are calendar months in UTC. */
export function periodStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** The first instant of the next month: when usage resets. */
export function nextReset(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}
