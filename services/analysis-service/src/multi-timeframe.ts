import {
  type ChartGenerated,
  ChartGenerateSet,
  type DataOf,
  type MultiTimeframeCreate,
  type MultiTimeframeItem,
  type MultiTimeframeRun,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
  type QuotaSnapshot,
} from '@chartwright/contracts';
import { callRpc, newId, ServiceError } from '@chartwright/kit';
import type { Kysely, Selectable } from 'kysely';
import type { z } from 'zod';
import { confluence } from './confluence.js';
import type { AnalysisContext } from './context.js';
import {
  FINAL,
  type NewAnalysis,
  queuedRow,
  quotaCounter,
  rememberChart,
  requestedData,
} from './db/analyses.js';
import type { AnalysisDb, MultiTimeframeRunTable } from './db/schema.js';
import type { AnalysisEvents } from './events.js';

/** The durable consumer that settles runs as their analyses finish. */
export const MULTI_TIMEFRAME_CONSUMER = 'analysis-multi-timeframe';

/** Rendering up to four charts takes longer than one request's default wait. */
const CHART_SET_TIMEOUT_MS = 90_000;

type RunRow = Selectable<MultiTimeframeRunTable>;

const notFound = () => new ServiceError('NOT_FOUND', 'multi-timeframe analysis not found');

const bothQuotas = (q: QuotaSnapshot) => ({
  charts: {
    used: q.charts.used,
    limit: q.charts.limit,
    remaining: q.charts.limit === null ? null : Math.max(0, q.charts.limit - q.charts.used),
  },
  analyses: quotaCounter(q),
});

/**
 * Multi-timeframe analysis: one symbol on 2 to 4 intervals, a chart and an analysis for each,
 * and their confluence when every analysis is final. All the quota is reserved before anything
 * starts, so a run is made whole or not at all.
 */
export class MultiTimeframe {
  constructor(
    private readonly ctx: AnalysisContext,
    private readonly events: AnalysisEvents,
  ) {}

  async create(req: z.infer<typeof MultiTimeframeCreate.request>) {
    const { bus, db } = this.ctx;
    const { userId, idempotencyKey } = req;
    const { symbol, intervals, studies, tradingStyle, prompt } = req.request;
    if (idempotencyKey) {
      const made = await this.#byKey(userId, idempotencyKey);
      if (made) return this.#answer(made);
    }
    // The analyses first: when they cannot all be covered, no chart is drawn.
    const reservations = await this.#reserveAnalyses(userId, intervals.length);
    let charts: { chartId: string }[];
    let generated: DataOf<typeof ChartGenerated>[];
    try {
      ({ charts, generated } = await callRpc(
        bus,
        ChartGenerateSet,
        {
          userId,
          requests: intervals.map((interval) => ({ symbol, interval, ...(studies ? { studies } : {}) })),
          idempotencyKey: idempotencyKey && `${idempotencyKey}:charts`,
        },
        { timeoutMs: CHART_SET_TIMEOUT_MS },
      ));
    } catch (err) {
      await this.#release(reservations);
      throw err;
    }

    const runId = newId();
    const queued: NewAnalysis[] = intervals.map((interval, i) => ({
      id: newId(),
      chartId: charts[i]!.chartId,
      userId,
      symbol,
      interval,
      prompt: prompt ?? null,
      tradingStyle,
      includeRiskManagement: true,
      confidenceThreshold: null,
      reservationId: reservations[i]!,
      idempotencyKey: null,
    }));
    const requested = queued.map((a) => this.events.requested(requestedData(a)));
    try {
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto('multi_timeframe_runs')
          .values({
            id: runId,
            user_id: userId,
            symbol,
            status: 'running',
            confluence: null,
            idempotency_key: idempotencyKey ?? null,
            completed_at: null,
          })
          .execute();
        await trx
          .insertInto('multi_timeframe_items')
          .values(
            queued.map((a, position) => ({
              analysis_id: a.id,
              run_id: runId,
              position,
              interval: intervals[position]!,
              chart_id: a.chartId,
            })),
          )
          .execute();
        // The charts as their `chart.generated` will say, known now: the analyses need not wait
        // for the events (which then change nothing).
        for (const chart of generated) await rememberChart(trx, chart);
        await trx.insertInto('analyses').values(queued.map(queuedRow)).execute();
        await this.events.store(trx, ...requested);
      });
    } catch (err) {
      await this.#release(reservations);
      // Another attempt of the same request made the run first: that one is the answer.
      if (idempotencyKey && (err as { code?: unknown }).code === '23505') {
        const made = await this.#byKey(userId, idempotencyKey);
        if (made) return this.#answer(made);
      }
      throw err;
    }
    this.events.send(requested);
    return this.#answer(await this.#run(db, userId, runId));
  }

  async get(userId: string, runId: string): Promise<MultiTimeframeRun> {
    const [run] = await this.#withItems([await this.#run(this.ctx.db, userId, runId)]);
    return run!;
  }

  async list(q: { userId: string; limit: number; offset: number }) {
    const { db } = this.ctx;
    const base = db.selectFrom('multi_timeframe_runs').where('user_id', '=', q.userId);
    const [rows, count] = await Promise.all([
      base
        .selectAll()
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(q.limit)
        .offset(q.offset)
        .execute(),
      base.select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ]);
    const total = Number(count.n);
    return {
      runs: await this.#withItems(rows),
      pagination: { total, limit: q.limit, offset: q.offset, hasMore: q.offset + rows.length < total },
    };
  }

  /**
   * `analysis.completed` / `analysis.failed` of any analysis: when it belongs to a run whose
   * analyses are now all final, the run is settled with its confluence and
   * `analysis.multi_timeframe_completed`, in one transaction (the run row is locked, so two
   * analyses finishing together settle it once).
   */
  async analysisSettled(analysisId: string): Promise<void> {
    const { db } = this.ctx;
    const item = await db
      .selectFrom('multi_timeframe_items')
      .select('run_id')
      .where('analysis_id', '=', analysisId)
      .executeTakeFirst();
    if (!item) return;
    const event = await db.transaction().execute(async (trx) => {
      const run = await trx
        .selectFrom('multi_timeframe_runs')
        .selectAll()
        .where('id', '=', item.run_id)
        .forUpdate()
        .executeTakeFirst();
      if (run?.status !== 'running') return undefined;
      const readings = await readItems(trx, [run.id]);
      if (readings.some((r) => !FINAL.includes(r.status))) return undefined;
      const result = confluence(readings);
      const status = readings.every((r) => r.status === 'failed') ? 'failed' : 'completed';
      const completedAt = new Date();
      await trx
        .updateTable('multi_timeframe_runs')
        .set({ status, confluence: JSON.stringify(result) as never, completed_at: completedAt })
        .where('id', '=', run.id)
        .execute();
      const e = this.events.multiTimeframeCompleted({
        runId: run.id,
        userId: run.user_id,
        symbol: run.symbol,
        status,
        items: readings.map(toItem),
        confluence: result,
        completedAt: completedAt.toISOString(),
      });
      await this.events.store(trx, e);
      return e;
    });
    if (event) this.events.send([event]);
  }

  /** One reservation per analysis (each analysis commits or releases its own); all or none. */
  async #reserveAnalyses(userId: string, n: number): Promise<string[]> {
    const granted: string[] = [];
    let snapshot: QuotaSnapshot | undefined;
    try {
      for (let i = 0; i < n; i++) {
        const reservationId = newId();
        const r = await callRpc(this.ctx.bus, QuotaReserve, {
          userId,
          kind: 'analyses',
          amount: 1,
          reservationId,
          ttlSeconds: this.ctx.config.reservationTtlSeconds,
        });
        snapshot = r.quota;
        if (!r.granted) break;
        granted.push(reservationId);
      }
    } catch (err) {
      await this.#release(granted);
      throw err;
    }
    if (granted.length === n) return granted;
    await this.#release(granted);
    const quota = quotaCounter(await callRpc(this.ctx.bus, QuotaGet, { userId }).catch(() => snapshot!));
    throw new ServiceError(
      'QUOTA_EXCEEDED',
      `Monthly AI analysis limit reached: this needs ${n} analyses and ${quota.remaining ?? 0} remain. Upgrade your plan to continue.`,
      { quota },
    );
  }

  async #release(reservations: readonly string[]): Promise<void> {
    await Promise.all(
      reservations.map((reservationId) =>
        callRpc(this.ctx.bus, QuotaRelease, { reservationId }).catch((err) =>
          this.ctx.logger.warn({ err, reservationId }, 'could not release an analysis reservation'),
        ),
      ),
    );
  }

  async #answer(run: RunRow) {
    const [full, snapshot] = await Promise.all([
      this.#withItems([run]),
      callRpc(this.ctx.bus, QuotaGet, { userId: run.user_id }),
    ]);
    return { ...full[0]!, quota: bothQuotas(snapshot) };
  }

  #byKey(userId: string, idempotencyKey: string) {
    return this.ctx.db
      .selectFrom('multi_timeframe_runs')
      .selectAll()
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
  }

  async #run(db: Kysely<AnalysisDb>, userId: string, runId: string): Promise<RunRow> {
    const row = await db
      .selectFrom('multi_timeframe_runs')
      .selectAll()
      .where('id', '=', runId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    if (!row) throw notFound();
    return row;
  }

  async #withItems(rows: readonly RunRow[]): Promise<MultiTimeframeRun[]> {
    const items = await readItems(
      this.ctx.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => ({
      id: r.id,
      symbol: r.symbol,
      status: r.status,
      createdAt: new Date(r.created_at).toISOString(),
      completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
      items: items.filter((i) => i.runId === r.id).map(toItem),
      confluence: r.confluence,
    }));
  }
}

/** A run's items with their analyses' readings, in request order. */
async function readItems(db: Kysely<AnalysisDb>, runIds: readonly string[]) {
  if (runIds.length === 0) return [];
  const rows = await db
    .selectFrom('multi_timeframe_items as i')
    .leftJoin('analyses as a', 'a.id', 'i.analysis_id')
    .select([
      'i.run_id',
      'i.position',
      'i.interval',
      'i.chart_id',
      'i.analysis_id',
      'a.status',
      'a.result',
      'a.recommendation',
      'a.confidence',
    ])
    .where('i.run_id', 'in', runIds)
    .orderBy('i.run_id')
    .orderBy('i.position')
    .execute();
  return rows.map((r) => {
    // An analysis deleted with its chart counts as failed.
    const status = r.status ?? 'failed';
    const result = status === 'completed' ? r.result : null;
    return {
      runId: r.run_id,
      interval: r.interval,
      chartId: r.chart_id,
      analysisId: r.analysis_id,
      status,
      trend: result?.trend ?? null,
      recommendation: result ? r.recommendation : null,
      confidence: result ? r.confidence : null,
      entryPrice: result?.entryPrice ?? null,
      stopLoss: result?.stopLoss ?? null,
      takeProfit: result?.takeProfit ?? null,
      riskRewardRatio: result?.riskRewardRatio ?? null,
    };
  });
}

const toItem = (r: Awaited<ReturnType<typeof readItems>>[number]): MultiTimeframeItem => ({
  interval: r.interval,
  chartId: r.chartId,
  analysisId: r.analysisId,
  status: r.status,
  trend: r.trend,
  recommendation: r.recommendation,
  confidence: r.confidence,
});
