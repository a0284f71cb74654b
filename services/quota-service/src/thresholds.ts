import { type QuotaKind, QuotaThresholdReached } from '@chartwright/contracts';
import { enqueueEvent, makeEvent } from '@chartwright/kit';
import type { Kysely } from 'kysely';
import type { QuotaDb } from './db/schema.js';
import { limitFor, nextReset, type PlanLimits, periodStart } from './plans.js';

/** Percentages of a monthly limit at which the user is told (`quota.threshold_reached`). */
export const THRESHOLDS = [80, 100] as const;

const usedColumn = { charts: 'charts_used', analyses: 'analyses_used' } as const;

/**
 * In the transaction of a commit: each threshold this month's usage has now reached, and that
 * was not announced yet, is recorded (its key is user, resource, threshold and month) and its
 * event written to the outbox, so it is sent once and only if the commit holds.
 */
export async function announceThresholds(
  trx: Kysely<QuotaDb>,
  plans: PlanLimits,
  userId: string,
  kind: QuotaKind,
  now: Date,
): Promise<void> {
  const row = await trx
    .selectFrom('user_quotas')
    .select(['plan', 'period_start', usedColumn[kind]])
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) return;
  const limit = limitFor(plans, row.plan, kind);
  const period = periodStart(now);
  if (!limit || new Date(row.period_start).getTime() < period.getTime()) return;
  const used = (row as unknown as Record<string, number>)[usedColumn[kind]] ?? 0;
  const reached = THRESHOLDS.filter((t) => used * 100 >= limit * t);
  if (reached.length === 0) return;
  const fresh = await trx
    .insertInto('threshold_notices')
    .values(
      reached.map((threshold) => ({ user_id: userId, resource: kind, threshold, period_start: period })),
    )
    .onConflict((oc) => oc.columns(['user_id', 'resource', 'threshold', 'period_start']).doNothing())
    .returning('threshold')
    .execute();
  for (const { threshold } of fresh)
    await enqueueEvent(
      trx,
      makeEvent(
        QuotaThresholdReached,
        {
          userId,
          plan: row.plan,
          resource: kind,
          threshold: threshold as 80 | 100,
          used,
          limit,
          periodStart: period.toISOString(),
          resetAt: nextReset(now).toISOString(),
          reachedAt: now.toISOString(),
        },
        { source: 'quota-service', subject: userId },
      ),
    );
}
