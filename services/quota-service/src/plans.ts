import { Plan, type QuotaKind } from '@chartwright/contracts';
import { z } from 'zod';

const Limit = z.number().int().nonnegative().nullable();

/** Monthly limits per plan; `null` is unlimited. */
export const PlanLimits = z.record(Plan, z.object({ charts: Limit, analyses: Limit }));
export type PlanLimits = z.infer<typeof PlanLimits>;

/** Overrides of some plans' limits, e.g. `{"pro": {"analyses": 80}}`; the rest keep their defaults. */
export const PlanOverrides = z.partialRecord(
  Plan,
  z.strictObject({ charts: Limit.optional(), analyses: Limit.optional() }),
);
export type PlanOverrides = z.infer<typeof PlanOverrides>;

/** The design document's plans: free 5/3, pro 100/50, enterprise unlimited. */
export const DEFAULT_PLANS: PlanLimits = {
  free: { charts: 5, analyses: 3 },
  pro: { charts: 100, analyses: 50 },
  enterprise: { charts: null, analyses: null },
};

export function withOverrides(overrides: PlanOverrides | undefined): PlanLimits {
  const plans = structuredClone(DEFAULT_PLANS);
  for (const [plan, limits] of Object.entries(overrides ?? {}) as [Plan, PlanOverrides[Plan]][])
    Object.assign(plans[plan], limits);
  return plans;
}

export const limitFor = (plans: PlanLimits, plan: Plan, kind: QuotaKind): number | null => plans[plan][kind];

/** Periods are calendar months in UTC. */
export function periodStart(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/** The first instant of the next month: when usage resets. */
export function nextReset(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
}
