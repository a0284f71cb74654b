import {
  AnalysisGet,
  AnalysisList,
  AnalysisListForChart,
  AnalysisPurgeChart,
  AnalysisRequest,
  AnalysisRequested,
  type AnalysisStatus,
  AnalysisWait,
  ChartDeleted,
  ChartGenerated,
  ChartStored,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
} from '@chartwright/contracts';
import {
  applyOnce,
  callRpc,
  consumeEvents,
  executeWithEvent,
  makeEvent,
  newId,
  openServiceStore,
  type RunningService,
  ServiceError,
  type ServiceFactory,
  type Subscription,
  serveRpc,
  stopAll,
} from '@chartwright/kit';
import { type ObjectStore, openObjectStore } from '@chartwright/object-store';
import { BuiltinAnalyst } from './analyst/builtin.js';
import type { Analyst } from './analyst/types.js';
import { loadAnalysisConfig } from './config.js';
import { migrations } from './db/migrations/index.js';
import type { AnalysisDb } from './db/schema.js';
import { ChartBars } from './market.js';
import {
  countAnalyses,
  FINAL,
  failAbandoned,
  getAnalysis,
  Notifier,
  purgeChart,
  quotaCounter,
  rememberChart,
  SERVICE,
  toRecord,
} from './store.js';
import { sweepTempDir } from './tempfiles.js';
import { AnalysisWorker } from './worker.js';

export { type AnalysisConfig, loadAnalysisConfig } from './config.js';
export { ChartBars, readingsOf } from './market.js';
export { SERVICE } from './store.js';
export { sweepTempDir, tempImagePath } from './tempfiles.js';

const QUEUE = 'analysis-service';
export const WORKERS_DURABLE = 'analysis-workers';
export const CHARTS_DURABLE = 'analysis-charts';

export interface AnalysisServiceOptions {
  /** Default: `openObjectStore(env)`. */
  objects?: ObjectStore;
  /** Default: Anthropic when `ANTHROPIC_API_KEY` is set, else the built-in analyst. */
  analyst?: Analyst;
}

/** The analyst the environment asks for. The Anthropic SDK (~20 MB) is loaded only when used. */
export async function analystFromEnv(env: Record<string, string | undefined>): Promise<Analyst> {
  if (!env.ANTHROPIC_API_KEY) return new BuiltinAnalyst();
  const { AnthropicAnalyst, anthropicConfigFromEnv } = await import('./analyst/anthropic.js');
  return new AnthropicAnalyst(anthropicConfigFromEnv(env));
}

/** AI chart analysis: download-on-demand, model adapters, results. */
export function analysisService(opts: AnalysisServiceOptions = {}): ServiceFactory {
  return async (rt): Promise<RunningService> => {
    const config = loadAnalysisConfig(rt.env);
    const logger = rt.logger.child({ service: SERVICE });
    const swept = await sweepTempDir(config.tmpDir);
    if (swept.length)
      logger.warn({ files: swept.length, dir: config.tmpDir }, 'removed temp files of a crashed process');
    const analyst = opts.analyst ?? (await analystFromEnv(rt.env));
    const objects = opts.objects ?? openObjectStore(rt.env);
    const { database, relay } = await openServiceStore<AnalysisDb>(rt, 'analysis', migrations);
    const db = database.db;
    const notifier = new Notifier();
    // Room beyond the retry bound for deliveries lost to crashed workers.
    const maxDeliver = config.maxAttempts + 3;
    const worker = new AnalysisWorker({
      db,
      relay,
      objects,
      analyst,
      bars: new ChartBars(config.market),
      config,
      notifier,
      logger,
    });
    logger.info({ model: analyst.model, concurrency: config.concurrency }, 'analyst ready');

    /** The caller's chart; waits a little for one generated a moment ago. */
    const findChart = async (chartId: string, userId: string) => {
      const deadline = Date.now() + config.chartWaitMs;
      for (;;) {
        const chart = await db
          .selectFrom('known_charts')
          .select(['user_id', 'deleted', 'symbol', 'interval'])
          .where('chart_id', '=', chartId)
          .executeTakeFirst();
        if (chart) {
          if (chart.deleted || chart.user_id !== userId) break;
          return chart;
        }
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new ServiceError('NOT_FOUND', 'chart not found');
    };

    /**
     * The analysis once it is finished (or, with `until: 'change'`, no longer `known`), or as it
     * stands after `timeoutMs`. With `fresh`, the caller has just created it and the first read
     * is skipped.
     */
    const waitFor = async (
      analysisId: string,
      userId: string,
      timeoutMs: number,
      until: 'done' | 'change' = 'done',
      known?: AnalysisStatus,
      changed?: Promise<void>,
      signal?: AbortSignal,
    ) => {
      const deadline = Date.now() + timeoutMs;
      if (changed) {
        const stop = new Promise<void>((r) => signal?.addEventListener('abort', () => r(), { once: true }));
        await (signal?.aborted ? undefined : Promise.race([changed, stop]));
      }
      for (;;) {
        // Listen before reading, so a change between the read and the wait is not missed;
        // changes made by other replicas are seen by the periodic re-read.
        const next = notifier.next(analysisId, Math.min(250, deadline - Date.now()), until === 'done');
        const record = toRecord(await getAnalysis(db, analysisId, userId));
        const satisfied =
          FINAL.includes(record.status) ||
          (until === 'change' && known !== undefined && record.status !== known);
        // A drain answers with the record as it stands rather than hold the stop.
        if (satisfied || Date.now() >= deadline || signal?.aborted) return record;
        await next;
      }
    };

    /**
     * The analysis an earlier attempt of the same request made (same `idempotencyKey`), answered
     * as a new one would be: its quota, and with `waitMs` its record once done or when the wait ends.
     */
    const madeBefore = async (
      userId: string,
      idempotencyKey: string,
      waitMs: number,
      signal?: AbortSignal,
    ) => {
      const row = await db
        .selectFrom('analyses')
        .select(['id', 'status'])
        .where('user_id', '=', userId)
        .where('idempotency_key', '=', idempotencyKey)
        .executeTakeFirst();
      if (!row) return undefined;
      const snapshot = await callRpc(rt.bus, QuotaGet, { userId });
      const quota = quotaCounter(snapshot);
      if (waitMs <= 0) return { analysisId: row.id, status: row.status, quota };
      const record = await waitFor(row.id, userId, waitMs, 'done', undefined, undefined, signal);
      return { analysisId: row.id, status: record.status, quota, record };
    };

    const subs: Subscription[] = [];
    try {
      subs.push(
        await serveRpc(rt.bus, AnalysisRequest, QUEUE, logger, async (req, _headers, signal) => {
          if (req.idempotencyKey) {
            const made = await madeBefore(req.userId, req.idempotencyKey, req.waitMs, signal);
            if (made) return made;
          }
          const chart = await findChart(req.chartId, req.userId);
          const analysisId = newId();
          const reservationId = newId();
          const reserved = await callRpc(rt.bus, QuotaReserve, {
            userId: req.userId,
            kind: 'analyses',
            amount: 1,
            reservationId,
            ttlSeconds: config.reservationTtlSeconds,
          });
          if (!reserved.granted) {
            throw new ServiceError(
              'QUOTA_EXCEEDED',
              'Monthly AI analysis limit reached. Upgrade your plan to continue.',
              { quota: quotaCounter(reserved.quota) },
            );
          }
          const requested = makeEvent(
            AnalysisRequested,
            {
              analysisId,
              chartId: req.chartId,
              userId: req.userId,
              reservationId,
              prompt: req.prompt,
              tradingStyle: req.options.tradingStyle,
              includeRiskManagement: req.options.includeRiskManagement,
              confidenceThreshold: req.options.confidenceThreshold ?? null,
            },
            { source: SERVICE, subject: analysisId },
          );
          try {
            await executeWithEvent(
              db,
              (qc) =>
                qc
                  .insertInto('analyses')
                  .values({
                    id: analysisId,
                    chart_id: req.chartId,
                    user_id: req.userId,
                    status: 'queued',
                    symbol: chart.symbol,
                    interval: chart.interval,
                    prompt: req.prompt,
                    trading_style: req.options.tradingStyle,
                    include_risk_management: req.options.includeRiskManagement,
                    confidence_threshold: req.options.confidenceThreshold ?? null,
                    reservation_id: reservationId,
                    result: null,
                    recommendation: null,
                    confidence: null,
                    model: null,
                    tokens_used: null,
                    cost_usd: null,
                    processing_ms: null,
                    error_code: null,
                    error_reason: null,
                    completed_at: null,
                    downloading_at: null,
                    analysing_at: null,
                    claimed_at: null,
                    idempotency_key: req.idempotencyKey ?? null,
                  })
                  .returning('id'),
              requested,
            );
          } catch (err) {
            await callRpc(rt.bus, QuotaRelease, { reservationId }).catch(() => undefined);
            // Another attempt of the same request queued it first: that one is the answer.
            if (req.idempotencyKey && (err as { code?: unknown }).code === '23505') {
              const made = await madeBefore(req.userId, req.idempotencyKey, req.waitMs, signal);
              if (made) return made;
            }
            throw err;
          }
          // Listening from before the event is out, so a fast worker's answer is not missed.
          const done = req.waitMs > 0 ? notifier.next(analysisId, req.waitMs, true) : undefined;
          void relay.send([requested]);
          const quota = quotaCounter(reserved.quota);
          if (!done) return { analysisId, status: 'queued' as const, quota };
          const record = await waitFor(analysisId, req.userId, req.waitMs, 'done', undefined, done, signal);
          return { analysisId, status: record.status, quota, record };
        }),
        await serveRpc(rt.bus, AnalysisGet, QUEUE, logger, async (req) =>
          toRecord(await getAnalysis(db, req.analysisId, req.userId)),
        ),
        await serveRpc(rt.bus, AnalysisWait, QUEUE, logger, async (req, _headers, signal) =>
          waitFor(req.analysisId, req.userId, req.timeoutMs, req.until, req.known, undefined, signal),
        ),
        await serveRpc(rt.bus, AnalysisList, QUEUE, logger, async (req) => {
          const rows = await db
            .selectFrom('analyses')
            .select([
              'id',
              'chart_id',
              'status',
              'symbol',
              'interval',
              'result',
              'recommendation',
              'confidence',
              'created_at',
              'completed_at',
            ])
            .where('user_id', '=', req.userId)
            .$if(req.chartId !== undefined, (q) => q.where('chart_id', '=', req.chartId!))
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .limit(req.limit)
            .offset(req.offset)
            .execute();
          return {
            total: await countAnalyses(db, req.userId, req.chartId),
            analyses: rows.map((r) => ({
              id: r.id,
              chartId: r.chart_id,
              status: r.status,
              symbol: r.symbol,
              interval: r.interval,
              trend: r.status === 'completed' ? (r.result?.trend ?? null) : null,
              recommendation: r.status === 'completed' ? (r.recommendation as never) : null,
              confidence: r.status === 'completed' ? r.confidence : null,
              createdAt: new Date(r.created_at).toISOString(),
              completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
            })),
          };
        }),
        await serveRpc(rt.bus, AnalysisListForChart, QUEUE, logger, async (req) => {
          const rows = await db
            .selectFrom('analyses')
            .select(['id', 'status', 'recommendation', 'confidence', 'created_at'])
            .where('chart_id', '=', req.chartId)
            .where('user_id', '=', req.userId)
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .limit(req.limit)
            .execute();
          return {
            analyses: rows.map((r) => ({
              id: r.id,
              status: r.status,
              recommendation: r.status === 'completed' ? (r.recommendation as never) : null,
              confidence: r.status === 'completed' ? r.confidence : null,
              createdAt: new Date(r.created_at).toISOString(),
            })),
          };
        }),
        await serveRpc(rt.bus, AnalysisPurgeChart, QUEUE, logger, async (req) => {
          const deleted = await db.transaction().execute((trx) => purgeChart(trx, req.chartId, req.userId));
          relay.kick();
          return { deleted };
        }),
      );

      subs.push(
        await consumeEvents(
          rt.bus,
          { stream: 'CHARTS', durable: CHARTS_DURABLE, filterSubject: 'chart.>', concurrency: 4 },
          {
            [ChartGenerated.type]: async (e) =>
              void (await applyOnce(db, CHARTS_DURABLE, e.id, (trx) => rememberChart(trx, e.data))),
            [ChartStored.type]: async (e) => {
              const { numUpdatedRows } = await db
                .updateTable('known_charts')
                .set({ object_key: e.data.objectKey, content_type: e.data.contentType, size: e.data.size })
                .where('chart_id', '=', e.data.chartId)
                .where('user_id', '=', e.data.userId)
                .executeTakeFirstOrThrow();
              // Ahead of its chart.generated (a retry, a backlog): applied once that is, not lost.
              if (numUpdatedRows === 0n) throw new Error('chart.stored before its chart.generated');
            },
            [ChartDeleted.type]: async (e) => {
              const applied = await applyOnce(db, CHARTS_DURABLE, e.id, async (trx) => {
                await purgeChart(trx, e.data.chartId, e.data.userId);
              });
              if (applied) relay.kick();
            },
          },
          logger,
        ),
        await consumeEvents(
          rt.bus,
          {
            stream: 'ANALYSES',
            durable: WORKERS_DURABLE,
            filterSubject: 'analysis.requested',
            concurrency: config.concurrency,
            // A model call takes seconds: no job waits for a slot with its ack wait running.
            longJobs: true,
            ackWaitMs: config.ackWaitMs,
            backoffMs: config.retryBackoffMs,
            maxDeliver,
          },
          { [AnalysisRequested.type]: (e, d) => worker.handle(e.data, d) },
          logger,
        ),
      );
    } catch (err) {
      await stopAll(subs, relay, database);
      throw err;
    }

    const sweep = () =>
      failAbandoned(db, {
        maxDeliver,
        // A claimed job ends within its timeout, or stops sending heartbeats and is redelivered.
        jobMs: config.jobTimeoutMs + config.ackWaitMs,
        lifetimeMs: config.reservationTtlSeconds * 1000,
      })
        .then((events) => {
          if (events.length === 0) return;
          logger.warn({ analyses: events.length }, 'failed analyses that nobody will finish');
          for (const e of events) notifier.notify(e.data.analysisId, true);
          return relay.send(events);
        })
        .catch((err) => logger.warn({ err }, 'abandoned analysis sweep failed'));
    const sweeper = setInterval(sweep, config.sweepIntervalMs);
    sweeper.unref();

    return {
      name: SERVICE,
      checks: {
        database: () => database.ping(),
        objects: () => objects.ping(),
      },
      async stop() {
        clearInterval(sweeper);
        await stopAll(subs, relay, database);
        await objects.close?.();
      },
    };
  };
}

export const startAnalysisService: ServiceFactory = analysisService();
