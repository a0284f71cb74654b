import type {
  AnalysisBrief,
  AnalysisRecord,
  AnalysisStatus,
  AnalysisSummary,
  ChartGenerated,
  DataOf,
  EventEnvelope,
  QuotaSnapshot,
} from '@chartwright/contracts';
import { ServiceError } from '@chartwright/kit';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { AnalysisEvents } from '../events.js';
import type { AnalysisDb, AnalysisTable, KnownChartTable } from './schema.js';

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

/** What a new analysis is asked for. */
export interface NewAnalysis {
  id: string;
  chartId: string;
  userId: string;
  symbol: string;
  interval: string;
  prompt: string | null;
  tradingStyle: AnalysisTable['trading_style'];
  includeRiskManagement: boolean;
  confidenceThreshold: number | null;
  reservationId: string;
  idempotencyKey: string | null;
}

/** The row of a queued analysis. */
export const queuedRow = (a: NewAnalysis) => ({
  id: a.id,
  chart_id: a.chartId,
  user_id: a.userId,
  status: 'queued' as const,
  symbol: a.symbol,
  interval: a.interval as AnalysisRow['interval'],
  prompt: a.prompt,
  trading_style: a.tradingStyle,
  include_risk_management: a.includeRiskManagement,
  confidence_threshold: a.confidenceThreshold,
  reservation_id: a.reservationId,
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
  idempotency_key: a.idempotencyKey,
});

/** `analysis.requested` of a queued analysis. */
export const requestedData = (a: NewAnalysis) => ({
  analysisId: a.id,
  chartId: a.chartId,
  userId: a.userId,
  reservationId: a.reservationId,
  prompt: a.prompt,
  tradingStyle: a.tradingStyle,
  includeRiskManagement: a.includeRiskManagement,
  confidenceThreshold: a.confidenceThreshold,
});

export const quotaCounter = (q: QuotaSnapshot) => ({
  used: q.analyses.used,
  limit: q.analyses.limit,
  remaining: q.analyses.limit === null ? null : Math.max(0, q.analyses.limit - q.analyses.used),
});

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
      bars: d.bars ? (JSON.stringify(d.bars) as never) : null,
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
  events: AnalysisEvents,
  chartId: string,
  userId: string,
): Promise<{ deleted: number; failed: EventEnvelope[] }> {
  const owner = await trx
    .selectFrom('known_charts')
    .select('user_id')
    .where('chart_id', '=', chartId)
    .forUpdate()
    .executeTakeFirst();
  if (owner && owner.user_id !== userId) return { deleted: 0, failed: [] };
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
  const failed = unfinished.map((a) =>
    events.failed({
      analysisId: a.id,
      chartId,
      userId,
      reservationId: a.reservation_id,
      code: 'CHART_DELETED',
      reason: 'the chart was deleted before its analysis finished',
      failedAt: now,
    }),
  );
  await events.store(trx, ...failed);
  const deleted = await trx
    .deleteFrom('analyses')
    .where('chart_id', '=', chartId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return { deleted: Number(deleted.numDeletedRows), failed };
}

/**
 * Fails the unfinished analyses nobody will finish, releasing their quota: those whose last
 * allowed delivery was claimed longer ago than a job may take (the process running it died, and
 * JetStream delivers no more), and those older than their quota reservation. Safe with several
 * replicas: each row changes once. Returns the events to publish after the commit.
 */
export async function failAbandoned(
  db: Kysely<AnalysisDb>,
  events: AnalysisEvents,
  opts: { maxDeliver: number; jobMs: number; lifetimeMs: number },
): Promise<EventEnvelope[]> {
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
    const failed = rows.map((r) =>
      events.failed({
        analysisId: r.id,
        chartId: r.chart_id,
        userId: r.user_id,
        reservationId: r.reservation_id,
        code: r.error_code ?? 'ABANDONED',
        reason: r.error_reason ?? 'abandoned',
        failedAt: now.toISOString(),
      }),
    );
    await events.store(trx, ...failed);
    return failed;
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

/** One page of a user's analyses (optionally of one chart), newest first. */
export async function listAnalyses(
  db: Kysely<AnalysisDb>,
  q: { userId: string; chartId?: string; limit: number; offset: number },
): Promise<{ analyses: AnalysisBrief[]; total: number }> {
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
    .where('user_id', '=', q.userId)
    .$if(q.chartId !== undefined, (qb) => qb.where('chart_id', '=', q.chartId!))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit)
    .offset(q.offset)
    .execute();
  return {
    total: await countAnalyses(db, q.userId, q.chartId),
    analyses: rows.map((r) => ({
      id: r.id,
      chartId: r.chart_id,
      status: r.status,
      symbol: r.symbol,
      interval: r.interval,
      trend: r.status === 'completed' ? (r.result?.trend ?? null) : null,
      recommendation: r.status === 'completed' ? r.recommendation : null,
      confidence: r.status === 'completed' ? r.confidence : null,
      createdAt: new Date(r.created_at).toISOString(),
      completedAt: r.completed_at ? new Date(r.completed_at).toISOString() : null,
    })),
  };
}

/** A chart's analyses in brief, newest first. */
export async function listForChart(
  db: Kysely<AnalysisDb>,
  q: { userId: string; chartId: string; limit: number },
): Promise<AnalysisSummary[]> {
  const rows = await db
    .selectFrom('analyses')
    .select(['id', 'status', 'recommendation', 'confidence', 'created_at'])
    .where('chart_id', '=', q.chartId)
    .where('user_id', '=', q.userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(q.limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    status: r.status,
    recommendation: r.status === 'completed' ? r.recommendation : null,
    confidence: r.status === 'completed' ? r.confidence : null,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}
