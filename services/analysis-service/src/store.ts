import {
  AnalysisFailed,
  type AnalysisRecord,
  type AnalysisStatus,
  type ChartGenerated,
  type DataOf,
  type EventOf,
  type QuotaSnapshot,
} from '@chartwright/contracts';
import { enqueueEvent, makeEvent, ServiceError } from '@chartwright/kit';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { AnalysisDb, AnalysisTable, KnownChartTable } from './db/schema.js';

export const SERVICE = 'analysis-service';
export const FINAL: readonly AnalysisStatus[] = ['completed', 'failed'];

export type AnalysisRow = Selectable<AnalysisTable>;
export type ChartRow = Selectable<KnownChartTable>;

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function toRecord(r: AnalysisRow): AnalysisRecord {
  return {
    id: r.id,
    chartId: r.chart_id,
    userId: r.user_id,
    status: r.status,
    symbol: r.symbol,
    interval: r.interval,
    prompt: r.prompt,
    options: {
      includeRiskManagement: r.include_risk_management,
      tradingStyle: r.trading_style,
      confidenceThreshold: r.confidence_threshold,
    },
    result: r.status === 'completed' ? r.result : null,
    metadata:
      r.status === 'completed'
        ? {
            model: r.model ?? 'unknown',
            tokensUsed: r.tokens_used ?? 0,
            processingTime: Math.round(r.processing_ms ?? 0) / 1000,
          }
        : null,
    error:
      r.status === 'failed' ? { code: r.error_code ?? 'INTERNAL', reason: r.error_reason ?? 'failed' } : null,
    createdAt: new Date(r.created_at).toISOString(),
    downloadingAt: iso(r.downloading_at),
    analysingAt: iso(r.analysing_at),
    completedAt: iso(r.completed_at),
  };
}

export const quotaCounter = (q: QuotaSnapshot) => ({
  used: q.analyses.used,
  limit: q.analyses.limit,
  remaining: q.analyses.limit === null ? null : Math.max(0, q.analyses.limit - q.analyses.used),
});

/** Wakes in-process waiters when an analysis changes status (other replicas are polled). */
export class Notifier {
  private readonly waiters = new Map<string, Set<{ wake: () => void; finalOnly: boolean }>>();

  notify(id: string, final = false): void {
    const set = this.waiters.get(id);
    if (!set) return;
    for (const w of set) if (final || !w.finalOnly) w.wake();
  }

  /**
   * Resolves on the next change of `id` (only a final one with `finalOnly`) or after `ms`.
   * Register before reading, then await.
   */
  next(id: string, ms: number, finalOnly = false): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(id) ?? new Set();
      this.waiters.set(id, set);
      const waiter = {
        finalOnly,
        wake: () => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0 && this.waiters.get(id) === set) this.waiters.delete(id);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, Math.max(0, ms));
      set.add(waiter);
    });
  }
}

export async function getAnalysis(db: Kysely<AnalysisDb>, id: string, userId: string): Promise<AnalysisRow> {
  const row = await db
    .selectFrom('analyses')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!row) throw new ServiceError('NOT_FOUND', 'analysis not found');
  return row;
}

/** Learns a chart from `chart.generated`; a tombstone (deleted chart) stays deleted. */
export async function rememberChart(db: Kysely<AnalysisDb>, d: DataOf<typeof ChartGenerated>): Promise<void> {
  await db
    .insertInto('known_charts')
    .values({
      chart_id: d.chartId,
      user_id: d.userId,
      symbol: d.symbol,
      interval: d.interval,
      object_key: d.objectKey,
      external_url: d.externalUrl,
      config: JSON.stringify(d.config) as never,
      synthetic: d.synthetic,
      content_type: d.contentType,
      size: d.size,
      generated_at: new Date(d.generatedAt),
    })
    .onConflict((oc) => oc.column('chart_id').doNothing())
    .execute();
}

/**
 * Forgets a chart of `userId`: its unfinished analyses fail (releasing their quota), all its
 * analyses are deleted, and a tombstone keeps a late `chart.generated` from bringing it back.
 * Idempotent; another user's chart is left alone. Returns how many analyses were deleted.
 */
export async function purgeChart(
  trx: Transaction<AnalysisDb>,
  chartId: string,
  userId: string,
): Promise<number> {
  const owner = await trx
    .selectFrom('known_charts')
    .select('user_id')
    .where('chart_id', '=', chartId)
    .forUpdate()
    .executeTakeFirst();
  if (owner && owner.user_id !== userId) return 0;
  if (owner) {
    await trx.updateTable('known_charts').set({ deleted: true }).where('chart_id', '=', chartId).execute();
  } else {
    await trx
      .insertInto('known_charts')
      .values({
        chart_id: chartId,
        user_id: userId,
        symbol: '',
        interval: '',
        config: '{}' as never,
        deleted: true,
      })
      .onConflict((oc) => oc.column('chart_id').doNothing())
      .execute();
  }
  const unfinished = await trx
    .selectFrom('analyses')
    .select(['id', 'reservation_id'])
    .where('chart_id', '=', chartId)
    .where('user_id', '=', userId)
    .where('status', 'not in', FINAL)
    .forUpdate()
    .execute();
  const now = new Date().toISOString();
  for (const a of unfinished) {
    await enqueueEvent(
      trx,
      makeEvent(
        AnalysisFailed,
        {
          analysisId: a.id,
          chartId,
          userId,
          reservationId: a.reservation_id,
          code: 'CHART_DELETED',
          reason: 'the chart was deleted before its analysis finished',
          failedAt: now,
        },
        { source: SERVICE, subject: a.id },
      ),
    );
  }
  const deleted = await trx
    .deleteFrom('analyses')
    .where('chart_id', '=', chartId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(deleted.numDeletedRows);
}

/**
 * Fails the unfinished analyses nobody will finish, releasing their quota: those whose last
 * allowed delivery was claimed longer ago than a job may take (the process running it died, and
 * JetStream delivers no more), and those older than their quota reservation. Safe with several
 * replicas: each row changes once. Returns the events to publish after the commit.
 */
export async function failAbandoned(
  db: Kysely<AnalysisDb>,
  opts: { maxDeliver: number; jobMs: number; lifetimeMs: number },
): Promise<EventOf<typeof AnalysisFailed>[]> {
  const now = new Date();
  return db.transaction().execute(async (trx) => {
    const rows = await trx
      .updateTable('analyses')
      .set({
        status: 'failed',
        error_code: 'ABANDONED',
        error_reason: 'the analysis stopped and could not be resumed; the quota unit was given back',
        completed_at: now,
      })
      .where('status', 'not in', FINAL)
      .where((eb) =>
        eb.or([
          eb.and([
            eb('attempts', '>=', opts.maxDeliver),
            eb('claimed_at', '<', new Date(now.getTime() - opts.jobMs)),
          ]),
          eb('created_at', '<', new Date(now.getTime() - opts.lifetimeMs)),
        ]),
      )
      .returning(['id', 'chart_id', 'user_id', 'reservation_id', 'error_code', 'error_reason'])
      .execute();
    const events = rows.map((r) =>
      makeEvent(
        AnalysisFailed,
        {
          analysisId: r.id,
          chartId: r.chart_id,
          userId: r.user_id,
          reservationId: r.reservation_id,
          code: r.error_code!,
          reason: r.error_reason!,
          failedAt: now.toISOString(),
        },
        { source: SERVICE, subject: r.id },
      ),
    );
    for (const e of events) await enqueueEvent(trx, e);
    return events;
  });
}

/** Total analyses of a user (optionally of one chart). */
export async function countAnalyses(db: Kysely<AnalysisDb>, userId: string, chartId?: string) {
  const r = await db
    .selectFrom('analyses')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('user_id', '=', userId)
    .$if(chartId !== undefined, (q) => q.where('chart_id', '=', chartId!))
    .executeTakeFirstOrThrow();
  return r.n;
}
