import type {
  AnalysisCompleted,
  DataOf,
  Plan,
  QuotaKind,
  UsageBatchRecorded,
  UsageRecorded,
} from '@chartwright/contracts';
import { applyOnce, ServiceError } from '@chartwright/kit';
import type { QuotaContext } from './context.js';
import { QuotaStore } from './db/quota-store.js';
import { dailyUsage, insertUsage } from './db/usage.js';
import { quotaReservations, settled } from './metrics.js';

/** Consumer names double as inbox keys: changing one re-applies that consumer's events. */
export const USERS_CONSUMER = 'quota-users';

/** quota-service's use cases: reservations, plans, snapshots and the usage ledger. */
export class Quotas {
  readonly #store: QuotaStore;

  constructor(private readonly ctx: QuotaContext) {
    this.#store = new QuotaStore(ctx.db, ctx.config.plans, () => ctx.clock.now());
  }

  async reserve(req: {
    userId: string;
    kind: QuotaKind;
    amount: number;
    reservationId: string;
    ttlSeconds?: number;
  }) {
    const ttl = req.ttlSeconds ?? this.ctx.config.reservationTtlSeconds;
    const r = await this.#store.reserve(req.userId, req.kind, req.amount, req.reservationId, ttl);
    quotaReservations().add(1, {
      'chartwright.quota.kind': req.kind,
      outcome: r.granted ? 'granted' : 'denied',
    });
    return { reservationId: req.reservationId, granted: r.granted, quota: r.quota };
  }

  /** The kind of quota a reservation holds, if it exists. */
  async kindOf(reservationId: string): Promise<QuotaKind | undefined> {
    const held = await this.ctx.db
      .selectFrom('reservations')
      .select('kind')
      .where('id', '=', reservationId)
      .executeTakeFirst();
    return held?.kind;
  }

  /** A flow's success event commits the reservation it made. */
  commit(reservationId: string | null) {
    return reservationId ? this.#store.commit(reservationId).then(settled) : Promise.resolve('none');
  }

  /** A flow's failure (or its caller) gives the reservation back. */
  release(reservationId: string | null) {
    return reservationId ? this.#store.release(reservationId).then(settled) : Promise.resolve('none');
  }

  /** `analysis.backtest_finished`: the analyses the backtest used are charged, the rest given back. */
  settle(reservationId: string | null, used: number) {
    return reservationId ? this.#store.settle(reservationId, used).then(settled) : Promise.resolve('none');
  }

  snapshot(userId: string) {
    return this.#store.snapshot(userId);
  }

  /** Sets a plan now and answers with the new quota (tests and operators; users change plans by event). */
  async setPlan(userId: string, plan: Plan) {
    await this.#store.setPlan(userId, plan);
    return this.#store.snapshot(userId);
  }

  /** `user.registered`: the signup plan, once per event. */
  async registered(eventId: string, userId: string, plan: Plan): Promise<void> {
    await applyOnce(this.ctx.db, USERS_CONSUMER, eventId, (trx) =>
      new QuotaStore(trx, this.ctx.config.plans).register(userId, plan),
    );
  }

  /** `user.plan_changed`: the newest setting wins, whatever order the events arrive in. */
  async planChanged(eventId: string, userId: string, plan: Plan, at: Date): Promise<void> {
    await applyOnce(this.ctx.db, USERS_CONSUMER, eventId, (trx) =>
      new QuotaStore(trx, this.ctx.config.plans).setPlan(userId, plan, at),
    );
  }

  async usage(req: { userId: string; from: string; to: string }) {
    if (req.from > req.to) throw new ServiceError('VALIDATION_ERROR', '`from` must not be after `to`');
    const days = (Date.parse(req.to) - Date.parse(req.from)) / 86_400_000;
    if (days > 366) throw new ServiceError('VALIDATION_ERROR', 'at most 366 days at once');
    return { from: req.from, to: req.to, days: await dailyUsage(this.ctx.db, req.userId, req.from, req.to) };
  }

  /** A ledger row per `usage.recorded`: a batch of one request. */
  recordUsage(eventId: string, d: DataOf<typeof UsageRecorded>): Promise<void> {
    const { durationMs, at, ...rest } = d;
    return this.recordUsageBatch(eventId, {
      ...rest,
      count: 1,
      durationMsSum: durationMs,
      durationMsMax: durationMs,
      from: at,
      to: at,
    });
  }

  /**
   * The gateway's `usage.batch_recorded`: one row standing for `count` requests, keyed by the
   * event (a redelivery changes nothing).
   */
  recordUsageBatch(eventId: string, d: DataOf<typeof UsageBatchRecorded>): Promise<void> {
    return insertUsage(this.ctx.db, {
      id: eventId,
      user_id: d.userId,
      endpoint: d.endpoint,
      method: d.method,
      status_code: d.statusCode,
      requests: d.count,
      duration_ms: d.durationMsSum,
      duration_ms_max: d.durationMsMax,
      charts_generated: d.chartsGenerated,
      analyses_performed: d.analysesPerformed,
      tokens_used: d.tokensUsed,
      created_at: new Date(d.from),
    });
  }

  /**
   * `analysis.completed`: commits its reservation, and the ledger's analyses and tokens come from
   * here whether the client waited for the result (200) or not (202): a row standing for no
   * request (the request itself is counted by the gateway), keyed by the event.
   */
  async analysisCompleted(eventId: string, d: DataOf<typeof AnalysisCompleted>): Promise<void> {
    await this.commit(d.reservationId);
    await insertUsage(this.ctx.db, {
      id: eventId,
      user_id: d.userId,
      endpoint: '/v1/charts/:id/analyze',
      method: 'POST',
      status_code: 200,
      requests: 0,
      duration_ms: 0,
      analyses_performed: 1,
      tokens_used: d.metadata.tokensUsed,
      charts_generated: 0,
      created_at: new Date(d.completedAt),
    });
  }

  /** Flows that died after reserving get their units back. */
  async sweep(): Promise<void> {
    const n = await this.#store.releaseExpired();
    if (n) this.ctx.logger.info({ released: n }, 'expired reservations released');
    if (n) quotaReservations().add(n, { outcome: 'expired' });
  }
}
