import type { Plan, QuotaKind, QuotaSnapshot } from '@chartwright/contracts';
import { type Kysely, type Selectable, sql } from 'kysely';
import { limitFor, nextReset, type PlanLimits, periodStart } from '../plans.js';
import { announceThresholds } from '../thresholds.js';
import type { QuotaDb, UserQuotaTable } from './schema.js';

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

  /** A new user's row, to be inserted; what an existing row gets is up to the caller. */
  private newRow(userId: string, plan: Plan, planSetAt: Date | null) {
    return this.db.insertInto('user_quotas').values({
      user_id: userId,
      plan,
      charts_used: 0,
      analyses_used: 0,
      period_start: periodStart(this.now()),
      plan_set_at: planSetAt,
    });
  }

  /** The user's quota row, made on first sight with the signup plan; an existing one is kept. */
  async ensureUser(userId: string, plan: Plan = 'free'): Promise<void> {
    await this.newRow(userId, plan, null)
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
  }

  /**
   * `user.registered`: the signup plan, over a row made on first sight, but never over a plan
   * set since (the event may arrive after a plan change).
   */
  async register(userId: string, plan: Plan): Promise<void> {
    await this.newRow(userId, plan, null)
      .onConflict((oc) =>
        oc
          .column('user_id')
          .doUpdateSet({ plan, updated_at: sql`now()` })
          .where('user_quotas.plan_set_at', 'is', null),
      )
      .execute();
  }

  /**
   * Sets the plan as of `at`, unless a later setting is already applied: the gateway's direct call
   * and its `user.plan_changed` event, or two changes' events, may arrive in either order.
   */
  async setPlan(userId: string, plan: Plan, at: Date = this.now()): Promise<void> {
    await this.newRow(userId, plan, at)
      .onConflict((oc) =>
        oc
          .column('user_id')
          .doUpdateSet({ plan, plan_set_at: at, updated_at: sql`now()` })
          .where((eb) =>
            eb.or([eb('user_quotas.plan_set_at', 'is', null), eb('user_quotas.plan_set_at', '<', at)]),
          ),
      )
      .execute();
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
    const first = await this.tryReserve(userId, kind, amount, reservationId, ttlSeconds);
    if (first) return first;
    // Over the limit, or no quota row yet (the user's registration event may still be on its
    // way). Once the row surely exists, a second miss is a denial.
    await this.ensureUser(userId);
    const second = await this.tryReserve(userId, kind, amount, reservationId, ttlSeconds);
    return second ?? { granted: false, quota: await this.snapshot(userId) };
  }

  /**
   * The reservation in one transaction of two statements: the reservation row first (its key
   * serialises repeats of the same id), then one conditional UPDATE of the counters, whose row
   * lock serialises concurrent reservations and whose WHERE is re-checked against the latest
   * row, so the limit holds under any concurrency. The limit is looked up in SQL from the plan.
   * Undefined when the counters did not take it: over the limit, or no quota row.
   */
  private async tryReserve(
    userId: string,
    kind: QuotaKind,
    amount: number,
    reservationId: string,
    ttlSeconds: number,
  ): Promise<ReserveResult | undefined> {
    const now = this.now();
    const period = periodStart(now);
    const col = usedColumn[kind];
    const current = sql<number>`(case when period_start < ${period} then 0 else ${sql.ref(col)} end)`;
    const resetOther = (c: string) =>
      sql<number>`case when period_start < ${period} then 0 else ${sql.ref(c)} end`;
    const limits = Object.entries(this.plans).map(([plan, l]) => sql`when ${plan} then ${l[kind]}::int`);
    // NULL (unlimited) compares as unknown, hence coalesce.
    const fits = sql<boolean>`coalesce(${current} + ${amount} <= (case plan ${sql.join(limits, sql` `)} end), true)`;
    const outcome = await this.db
      .transaction()
      .execute(async (trx) => {
        const inserted = await trx
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
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!inserted) return { kind: 'repeat' as const };
        const row = await trx
          .updateTable('user_quotas')
          .set({
            charts_used: kind === 'charts' ? sql`${current} + ${amount}` : resetOther('charts_used'),
            analyses_used: kind === 'analyses' ? sql`${current} + ${amount}` : resetOther('analyses_used'),
            period_start: period,
            updated_at: now,
          })
          .where('user_id', '=', userId)
          .where(fits)
          .returningAll()
          .executeTakeFirst();
        // Not granted (or no such user): undo the reservation row.
        if (!row) throw new NotReserved();
        return { kind: 'granted' as const, row };
      })
      .catch((err) => {
        if (err instanceof NotReserved) return { kind: 'denied' as const };
        throw err;
      });

    if (outcome.kind === 'granted') return { granted: true, quota: this.toSnapshot(userId, outcome.row) };
    if (outcome.kind === 'denied') return undefined;
    const existing = await this.db
      .selectFrom('reservations')
      .select(['state', 'user_id'])
      .where('id', '=', reservationId)
      .executeTakeFirst();
    const granted =
      existing?.user_id === userId && existing.state !== 'released' && existing.state !== 'expired';
    return { granted, quota: await this.snapshot(userId) };
  }

  /**
   * Makes a reservation permanent. Idempotent; a released one stays released. One the sweeper
   * let expire is charged again: its flow did finish (late, after a relay or consumer backlog),
   * and the work done must be counted, even past the limit.
   */
  async commit(reservationId: string): Promise<string> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('reservations')
        .set({ state: 'committed', settled_at: this.now() })
        .where('id', '=', reservationId)
        .where('state', '=', 'held')
        .returning(['state', 'user_id', 'kind'])
        .executeTakeFirst();
      if (r) {
        await announceThresholds(trx, this.plans, r.user_id, r.kind, this.now());
        return r.state;
      }
      const late = await trx
        .updateTable('reservations')
        .set({ state: 'committed', settled_at: this.now() })
        .where('id', '=', reservationId)
        .where('state', '=', 'expired')
        .returning(['user_id', 'kind', 'amount', 'period_start'])
        .executeTakeFirst();
      if (!late) return (await stateOf(trx, reservationId)) ?? 'unknown';
      const col = usedColumn[late.kind];
      await trx
        .updateTable('user_quotas')
        .set(col, sql<number>`${sql.ref(col)} + ${late.amount}`)
        .where('user_id', '=', late.user_id)
        .where('period_start', '=', late.period_start)
        .execute();
      await announceThresholds(trx, this.plans, late.user_id, late.kind, this.now());
      return 'committed';
    });
  }

  /**
   * Commits `used` of a reservation's units and gives the rest back (a backtest that stopped
   * early). Idempotent: only a held reservation (or one that expired meanwhile, whose units went
   * back already and are charged again) is settled. Nothing used is a release.
   */
  async settle(reservationId: string, used: number): Promise<string> {
    if (used <= 0) return this.release(reservationId);
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .selectFrom('reservations')
        .selectAll()
        .where('id', '=', reservationId)
        .forUpdate()
        .executeTakeFirst();
      if (!r) return 'unknown';
      if (r.state !== 'held' && r.state !== 'expired') return r.state;
      const kept = Math.min(used, r.amount);
      await trx
        .updateTable('reservations')
        .set({ state: 'committed', amount: kept, settled_at: this.now() })
        .where('id', '=', reservationId)
        .execute();
      const col = usedColumn[r.kind];
      // Held units are counted already: the unused ones go back. Expired ones were given back: the used ones come again.
      const change = r.state === 'held' ? -(r.amount - kept) : kept;
      if (change !== 0)
        await trx
          .updateTable('user_quotas')
          .set(col, sql<number>`greatest(${sql.ref(col)} + ${change}, 0)`)
          .where('user_id', '=', r.user_id)
          .where('period_start', '=', r.period_start)
          .execute();
      await announceThresholds(trx, this.plans, r.user_id, r.kind, this.now());
      return 'committed';
    });
  }

  /** Gives held units back. Idempotent; a committed reservation is not released. */
  async release(reservationId: string, as: 'released' | 'expired' = 'released'): Promise<string> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('reservations')
        .set({ state: as, settled_at: this.now() })
        .where('id', '=', reservationId)
        .where('state', '=', 'held')
        .returning(['user_id', 'kind', 'amount', 'period_start'])
        .executeTakeFirst();
      if (!r) {
        const state = await stateOf(trx, reservationId);
        // Expired is released, as far as the caller is concerned.
        return state === 'expired' ? 'released' : (state ?? 'unknown');
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
    for (const r of expired) if ((await this.release(r.id, 'expired')) === 'released') n++;
    return n;
  }

  async snapshot(userId: string): Promise<QuotaSnapshot> {
    await this.ensureUser(userId);
    const row = await this.db
      .selectFrom('user_quotas')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirstOrThrow();
    return this.toSnapshot(userId, row);
  }

  private toSnapshot(userId: string, row: Selectable<UserQuotaTable>): QuotaSnapshot {
    const now = this.now();
    const period = periodStart(now);
    const fresh = new Date(row.period_start).getTime() >= period.getTime();
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

/** Rolls back a reservation that did not fit. */
class NotReserved extends Error {}

const stateOf = async (db: Kysely<QuotaDb>, reservationId: string) =>
  (await db.selectFrom('reservations').select('state').where('id', '=', reservationId).executeTakeFirst())
    ?.state;
