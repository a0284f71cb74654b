import type { Plan, QuotaKind, QuotaSnapshot } from '@chartwright/contracts';
import { type Kysely, sql } from 'kysely';
import type { QuotaDb } from './db/schema.js';
import { limitFor, nextReset, type PlanLimits, periodStart } from './plans.js';

const usedColumn = { charts: 'charts_used', analyses: 'analyses_used' } as const;

export interface ReserveResult {
  granted: boolean;
  quota: QuotaSnapshot;
}

/**
 * Monthly quotas with reservations. Reserved units count as used until released, so a flow
 * that reserves before it works can never push usage past the limit, however many run at once.
 */
export class QuotaStore {
  constructor(
    private readonly db: Kysely<QuotaDb>,
    private readonly plans: PlanLimits,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates the user's row if missing; an existing row keeps its plan unless `plan` is forced. */
  async ensureUser(userId: string, plan: Plan = 'free', force = false): Promise<void> {
    const period = periodStart(this.now());
    await this.db
      .insertInto('user_quotas')
      .values({ user_id: userId, plan, charts_used: 0, analyses_used: 0, period_start: period })
      .onConflict((oc) =>
        force
          ? oc.column('user_id').doUpdateSet({ plan, updated_at: sql`now()` })
          : oc.column('user_id').doNothing(),
      )
      .execute();
  }

  async setPlan(userId: string, plan: Plan): Promise<void> {
    await this.ensureUser(userId, plan, true);
  }

  /**
   * Atomically reserves `amount` units. Idempotent by `reservationId`: asking again answers as
   * the first time did (granted if the reservation is held or committed).
   */
  async reserve(
    userId: string,
    kind: QuotaKind,
    amount: number,
    reservationId: string,
    ttlSeconds: number,
  ): Promise<ReserveResult> {
    await this.ensureUser(userId);
    const now = this.now();
    const period = periodStart(now);
    const granted = await this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('reservations')
        .select(['state', 'user_id'])
        .where('id', '=', reservationId)
        .executeTakeFirst();
      if (existing) return existing.user_id === userId && existing.state !== 'released';

      const row = await trx
        .selectFrom('user_quotas')
        .select('plan')
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow();
      const limit = limitFor(this.plans, row.plan, kind);
      const col = usedColumn[kind];
      // One conditional UPDATE: the row lock serialises concurrent reservations and the WHERE
      // is re-checked against the latest row, so the limit holds under any concurrency.
      const current = sql<number>`(case when period_start < ${period} then 0 else ${sql.ref(col)} end)`;
      const updated = await trx
        .updateTable('user_quotas')
        .set({
          charts_used:
            kind === 'charts'
              ? sql`${current} + ${amount}`
              : sql`case when period_start < ${period} then 0 else charts_used end`,
          analyses_used:
            kind === 'analyses'
              ? sql`${current} + ${amount}`
              : sql`case when period_start < ${period} then 0 else analyses_used end`,
          period_start: period,
          updated_at: now,
        })
        .where('user_id', '=', userId)
        .$if(limit !== null, (qb) => qb.where(sql<boolean>`${current} + ${amount} <= ${limit}`))
        .returning('user_id')
        .executeTakeFirst();
      if (!updated) return false;
      await trx
        .insertInto('reservations')
        .values({
          id: reservationId,
          user_id: userId,
          kind,
          amount,
          state: 'held',
          period_start: period,
          expires_at: new Date(now.getTime() + ttlSeconds * 1000),
          settled_at: null,
        })
        .execute();
      return true;
    });
    return { granted, quota: await this.snapshot(userId) };
  }

  /** Makes a held reservation permanent. Idempotent; a released one stays released. */
  async commit(reservationId: string): Promise<string> {
    const r = await this.db
      .updateTable('reservations')
      .set({ state: 'committed', settled_at: this.now() })
      .where('id', '=', reservationId)
      .where('state', '=', 'held')
      .returning('state')
      .executeTakeFirst();
    if (r) return r.state;
    const existing = await this.db
      .selectFrom('reservations')
      .select('state')
      .where('id', '=', reservationId)
      .executeTakeFirst();
    return existing?.state ?? 'unknown';
  }

  /** Gives held units back. Idempotent; a committed reservation is not released. */
  async release(reservationId: string): Promise<string> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('reservations')
        .set({ state: 'released', settled_at: this.now() })
        .where('id', '=', reservationId)
        .where('state', '=', 'held')
        .returning(['user_id', 'kind', 'amount', 'period_start'])
        .executeTakeFirst();
      if (!r) {
        const existing = await trx
          .selectFrom('reservations')
          .select('state')
          .where('id', '=', reservationId)
          .executeTakeFirst();
        return existing?.state ?? 'unknown';
      }
      const col = usedColumn[r.kind];
      // Units of a past month were reset with it; only this period's counter goes down.
      await trx
        .updateTable('user_quotas')
        .set(col, sql<number>`greatest(${sql.ref(col)} - ${r.amount}, 0)`)
        .where('user_id', '=', r.user_id)
        .where('period_start', '=', r.period_start)
        .execute();
      return 'released';
    });
  }

  /** Releases held reservations whose flow died (past their expiry). Returns how many. */
  async releaseExpired(limit = 500): Promise<number> {
    const expired = await this.db
      .selectFrom('reservations')
      .select('id')
      .where('state', '=', 'held')
      .where('expires_at', '<', this.now())
      .limit(limit)
      .execute();
    let n = 0;
    for (const r of expired) if ((await this.release(r.id)) === 'released') n++;
    return n;
  }

  async snapshot(userId: string): Promise<QuotaSnapshot> {
    await this.ensureUser(userId);
    const now = this.now();
    const period = periodStart(now);
    const row = await this.db
      .selectFrom('user_quotas')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    const fresh = row.period_start.getTime() >= period.getTime();
    return {
      userId,
      plan: row.plan,
      charts: { used: fresh ? row.charts_used : 0, limit: limitFor(this.plans, row.plan, 'charts') },
      analyses: { used: fresh ? row.analyses_used : 0, limit: limitFor(this.plans, row.plan, 'analyses') },
      periodStart: period.toISOString(),
      resetAt: nextReset(now).toISOString(),
    };
  }
}
