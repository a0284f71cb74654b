import {
  AnalysisCompleted,
  AnalysisFailed,
  ChartGenerated,
  QuotaCommit,
  QuotaGet,
  type QuotaKind,
  QuotaRelease,
  QuotaReserve,
  QuotaSetPlan,
  QuotaUsage,
  type ServiceName,
  UsageRecorded,
  UserPlanChanged,
  UserRegistered,
} from '@chartwright/contracts';
import {
  applyOnce,
  consumeEvents,
  openServiceStore,
  type RunningService,
  ServiceError,
  type ServiceFactory,
  type Subscription,
  serveRpc,
  stopAll,
} from '@chartwright/kit';
import { loadQuotaConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import type { QuotaDb } from './db/schema.js';
import { QuotaStore } from './quota-store.js';
import { dailyUsage } from './usage.js';

export { DEFAULT_PLANS, nextReset, periodStart } from './plans.js';
export { QuotaStore } from './quota-store.js';

export const SERVICE = 'quota-service';
const QUEUE = 'quota-service';

/** On a locked-down NATS a service reserves and releases only the quota of its own work. */
const KIND_OF_SENDER: Partial<Record<ServiceName, QuotaKind>> = {
  'chart-service': 'charts',
  'analysis-service': 'analyses',
};
const refuseKind = (sender: ServiceName | undefined, kind: QuotaKind | undefined) => {
  if (sender && kind && KIND_OF_SENDER[sender] !== kind)
    throw new ServiceError('FORBIDDEN', `${sender} may not reserve or release ${kind} quota`);
};

/** Plans, monthly quotas, reservations and the usage ledger. */
export const startQuotaService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadQuotaConfig(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  const { database, relay } = await openServiceStore<QuotaDb>(rt, 'quota', migrations);
  const db = database.db;
  const store = new QuotaStore(db, config.plans);
  const subs: Subscription[] = [];

  subs.push(
    await serveRpc(rt.bus, QuotaReserve, QUEUE, logger, async (req, _headers, _signal, sender) => {
      refuseKind(sender, req.kind);
      const r = await store.reserve(
        req.userId,
        req.kind,
        req.amount,
        req.reservationId,
        req.ttlSeconds ?? config.reservationTtlSeconds,
      );
      return { reservationId: req.reservationId, granted: r.granted, quota: r.quota };
    }),
    await serveRpc(rt.bus, QuotaCommit, QUEUE, logger, async (req) => ({
      state: await store.commit(req.reservationId),
    })),
    await serveRpc(rt.bus, QuotaRelease, QUEUE, logger, async (req, _headers, _signal, sender) => {
      if (sender) {
        const held = await db
          .selectFrom('reservations')
          .select('kind')
          .where('id', '=', req.reservationId)
          .executeTakeFirst();
        refuseKind(sender, held?.kind);
      }
      return { state: await store.release(req.reservationId) };
    }),
    await serveRpc(rt.bus, QuotaGet, QUEUE, logger, async (req) => store.snapshot(req.userId)),
    await serveRpc(rt.bus, QuotaSetPlan, QUEUE, logger, async (req) => {
      await store.setPlan(req.userId, req.plan);
      return store.snapshot(req.userId);
    }),
    await serveRpc(rt.bus, QuotaUsage, QUEUE, logger, async (req) => {
      if (req.from > req.to) throw new ServiceError('VALIDATION_ERROR', '`from` must not be after `to`');
      const days = (Date.parse(req.to) - Date.parse(req.from)) / 86_400_000;
      if (days > 366) throw new ServiceError('VALIDATION_ERROR', 'at most 366 days at once');
      return { from: req.from, to: req.to, days: await dailyUsage(db, req.userId, req.from, req.to) };
    }),
  );

  subs.push(
    await consumeEvents(
      rt.bus,
      { stream: 'USERS', durable: 'quota-users', filterSubject: 'user.>' },
      {
        [UserRegistered.type]: async (e) =>
          void (await applyOnce(db, 'quota-users', e.id, async (trx) => {
            await new QuotaStore(trx, config.plans).register(e.data.userId, e.data.plan);
          })),
        [UserPlanChanged.type]: async (e) =>
          void (await applyOnce(db, 'quota-users', e.id, async (trx) => {
            await new QuotaStore(trx, config.plans).setPlan(e.data.userId, e.data.plan, new Date(e.time));
          })),
      },
      logger,
    ),
    // A reservation is committed by the success event of the flow that made it.
    await consumeEvents(
      rt.bus,
      { stream: 'CHARTS', durable: 'quota-charts', filterSubject: 'chart.generated' },
      {
        [ChartGenerated.type]: async (e) => {
          if (e.data.reservationId) await store.commit(e.data.reservationId);
        },
      },
      logger,
    ),
    await consumeEvents(
      rt.bus,
      { stream: 'ANALYSES', durable: 'quota-analyses', filterSubject: 'analysis.>' },
      {
        [AnalysisCompleted.type]: async (e) => {
          if (e.data.reservationId) await store.commit(e.data.reservationId);
        },
        [AnalysisFailed.type]: async (e) => {
          if (e.data.reservationId) await store.release(e.data.reservationId);
        },
      },
      logger,
    ),
    await consumeEvents(
      rt.bus,
      { stream: 'USAGE', durable: 'quota-usage', filterSubject: 'usage.recorded', concurrency: 4 },
      {
        // The row's id is the event's: a redelivery conflicts and changes nothing, in one
        // statement instead of an inbox transaction.
        [UsageRecorded.type]: async (e) =>
          void (await db
            .insertInto('api_usage')
            .values({
              id: e.id,
              user_id: e.data.userId,
              endpoint: e.data.endpoint,
              method: e.data.method,
              status_code: e.data.statusCode,
              duration_ms: e.data.durationMs,
              charts_generated: e.data.chartsGenerated,
              analyses_performed: e.data.analysesPerformed,
              tokens_used: e.data.tokensUsed,
              created_at: new Date(e.data.at),
            })
            .onConflict((oc) => oc.column('id').doNothing())
            .execute()),
      },
      logger,
    ),
  );

  // Flows that died after reserving get their units back.
  const sweeper = setInterval(() => {
    store
      .releaseExpired()
      .then((n) => n && logger.info({ released: n }, 'expired reservations released'))
      .catch((err) => logger.warn({ err }, 'reservation sweep failed'));
  }, config.sweepIntervalMs);
  sweeper.unref();

  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      clearInterval(sweeper);
      await stopAll(subs, relay, database);
    },
  };
};
