import {
  type AnalysisRequest,
  type ChartGenerated,
  ChartGet,
  type DataOf,
  QuotaGet,
  QuotaRelease,
  QuotaReserve,
} from '@chartwright/contracts';
import { applyOnce, callRpc, newId, ServiceError } from '@chartwright/kit';
import type { z } from 'zod';
import type { AnalysisContext } from './context.js';
import {
  failAbandoned,
  getAnalysis,
  listAnalyses,
  listForChart,
  type NewAnalysis,
  purgeChart,
  queuedRow,
  quotaCounter,
  rememberChart,
  requestedData,
  toRecord,
} from './db/analyses.js';
import type { AnalysisEvents } from './events.js';

/** The inbox key of the consumer of chart events. */
export const CHARTS_CONSUMER = 'analysis-charts';

/**
 * analysis-service's use cases: accept a request (at once: the work runs in `AnalysisWorker`),
 * read and list analyses, learn and forget charts, fail the analyses nobody will finish.
 */
export class Analyses {
  constructor(
    private readonly ctx: AnalysisContext,
    private readonly events: AnalysisEvents,
  ) {}

  /** Checks the chart is the caller's, reserves quota, saves a queued analysis with `analysis.requested`. */
  async request(req: z.infer<typeof AnalysisRequest.request>) {
    const { db, bus, config } = this.ctx;
    if (req.idempotencyKey) {
      const made = await this.#madeBefore(req.userId, req.idempotencyKey);
      if (made) return made;
    }
    const chart = await this.#chart(req.chartId, req.userId);
    const analysisId = newId();
    const reservationId = newId();
    const reserved = await callRpc(bus, QuotaReserve, {
      userId: req.userId,
      kind: 'analyses',
      amount: 1,
      reservationId,
      ttlSeconds: config.reservationTtlSeconds,
    });
    const quota = quotaCounter(reserved.quota);
    if (!reserved.granted)
      throw new ServiceError(
        'QUOTA_EXCEEDED',
        'Monthly AI analysis limit reached. Upgrade your plan to continue.',
        { quota },
      );
    const queued: NewAnalysis = {
      id: analysisId,
      chartId: req.chartId,
      userId: req.userId,
      symbol: chart.symbol,
      interval: chart.interval,
      prompt: req.prompt,
      tradingStyle: req.options.tradingStyle,
      includeRiskManagement: req.options.includeRiskManagement,
      confidenceThreshold: req.options.confidenceThreshold ?? null,
      reservationId,
      idempotencyKey: req.idempotencyKey ?? null,
    };
    const requested = this.events.requested(requestedData(queued));
    try {
      await this.events.saveWith(
        db,
        (qc) => qc.insertInto('analyses').values(queuedRow(queued)).returning('id'),
        requested,
      );
    } catch (err) {
      await callRpc(bus, QuotaRelease, { reservationId }).catch(() => undefined);
      // Another attempt of the same request queued it first: that one is the answer.
      if (req.idempotencyKey && (err as { code?: unknown }).code === '23505') {
        const made = await this.#madeBefore(req.userId, req.idempotencyKey);
        if (made) return made;
      }
      throw err;
    }
    return { analysisId, status: 'queued' as const, quota };
  }

  /**
   * The analysis an earlier attempt of the same request made (same `idempotencyKey`), answered
   * as a new one would be, with the caller's quota as it stands. The gateway then waits for its
   * outcome as for a new one (a finished one is read at once).
   */
  async #madeBefore(userId: string, idempotencyKey: string) {
    const row = await this.ctx.db
      .selectFrom('analyses')
      .select(['id', 'status'])
      .where('user_id', '=', userId)
      .where('idempotency_key', '=', idempotencyKey)
      .executeTakeFirst();
    if (!row) return undefined;
    const snapshot = await callRpc(this.ctx.bus, QuotaGet, { userId });
    return { analysisId: row.id, status: row.status, quota: quotaCounter(snapshot) };
  }

  /**
   * The caller's chart: as `chart.generated` told this service, or, for a chart generated a
   * moment ago whose event is still on its way, as chart-service answers (one call, no waiting).
   */
  async #chart(chartId: string, userId: string) {
    const known = await this.ctx.db
      .selectFrom('known_charts')
      .select(['user_id', 'deleted', 'symbol', 'interval'])
      .where('chart_id', '=', chartId)
      .executeTakeFirst();
    if (known) {
      if (known.deleted || known.user_id !== userId) throw new ServiceError('NOT_FOUND', 'chart not found');
      return { symbol: known.symbol, interval: known.interval };
    }
    const { chart } = await callRpc(this.ctx.bus, ChartGet, { userId, chartId });
    return { symbol: chart.symbol, interval: chart.interval };
  }

  async get(userId: string, analysisId: string) {
    return toRecord(await getAnalysis(this.ctx.db, analysisId, userId));
  }

  list(q: { userId: string; chartId?: string; limit: number; offset: number }) {
    return listAnalyses(this.ctx.db, q);
  }

  async listForChart(q: { userId: string; chartId: string; limit: number }) {
    return { analyses: await listForChart(this.ctx.db, q) };
  }

  /** `chart.generated`: the chart, its image and the bars it was drawn from. */
  async chartGenerated(eventId: string, data: DataOf<typeof ChartGenerated>): Promise<void> {
    await applyOnce(this.ctx.db, CHARTS_CONSUMER, eventId, (trx) => rememberChart(trx, data));
  }

  /** `chart.stored`: the image's permanent copy. */
  async chartStored(d: {
    chartId: string;
    userId: string;
    objectKey: string;
    contentType: string;
    size: number;
  }) {
    const { numUpdatedRows } = await this.ctx.db
      .updateTable('known_charts')
      .set({ object_key: d.objectKey, content_type: d.contentType, size: d.size })
      .where('chart_id', '=', d.chartId)
      .where('user_id', '=', d.userId)
      .executeTakeFirstOrThrow();
    // Ahead of its chart.generated (a retry, a backlog): applied once that is, not lost.
    if (numUpdatedRows === 0n) throw new Error('chart.stored before its chart.generated');
  }

  /** `chart.deleted`: its analyses go; unfinished ones fail first, giving their quota back. */
  async chartDeleted(eventId: string, chartId: string, userId: string): Promise<void> {
    let failed: Awaited<ReturnType<typeof purgeChart>>['failed'] = [];
    await applyOnce(this.ctx.db, CHARTS_CONSUMER, eventId, async (trx) => {
      failed = (await purgeChart(trx, this.events, chartId, userId)).failed;
    });
    this.events.send(failed);
  }

  /** Fails the analyses nobody will finish, giving their quota back. */
  async sweepAbandoned(maxDeliver: number): Promise<void> {
    const { config, logger } = this.ctx;
    const failed = await failAbandoned(this.ctx.db, this.events, {
      maxDeliver,
      // A claimed job ends within its timeout, or stops sending heartbeats and is redelivered.
      jobMs: config.jobTimeoutMs + config.ackWaitMs,
      lifetimeMs: config.reservationTtlSeconds * 1000,
    });
    if (failed.length === 0) return;
    logger.warn({ analyses: failed.length }, 'failed analyses that nobody will finish');
    this.events.send(failed);
  }
}
