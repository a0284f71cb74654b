import type { AnalysisExportRow, ExportCursor } from '@chartwright/contracts';
import { type Kysely, sql } from 'kysely';
import type { AnalysisDb } from './db/schema.js';

/** LIKE pattern matching `text` anywhere, with the wildcards in `text` taken literally. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/**
 * One page of the caller's analyses, newest first, after `after` (keyset: created_at, id), for a
 * streamed CSV export. Only the columns the CSV has are read: the long text stays in the database.
 */
export async function exportPage(
  db: Kysely<AnalysisDb>,
  q: { userId: string; from?: string; to?: string; symbol?: string; after?: ExportCursor; limit: number },
): Promise<{ rows: AnalysisExportRow[]; next: ExportCursor | null }> {
  let query = db
    .selectFrom('analyses')
    .select([
      'id',
      'created_at',
      'chart_id',
      'symbol',
      'interval',
      'status',
      'model',
      'recommendation',
      'confidence',
      sql<string | null>`result->>'trend'`.as('trend'),
      sql<number | null>`(result->>'entryPrice')::float8`.as('entry_price'),
      sql<number | null>`(result->>'stopLoss')::float8`.as('stop_loss'),
      sql<number | null>`(result->>'takeProfit')::float8`.as('take_profit'),
      sql<number | null>`(result->>'riskRewardRatio')::float8`.as('risk_reward'),
      // The cursor keeps PostgreSQL's microseconds: a Date would round them off and skip rows.
      sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'),
    ])
    .where('user_id', '=', q.userId);
  if (q.from) query = query.where('created_at', '>=', new Date(q.from));
  if (q.to) query = query.where('created_at', '<', new Date(q.to));
  if (q.symbol) query = query.where(sql<boolean>`symbol ilike ${containsPattern(q.symbol)} escape '\\'`);
  if (q.after)
    query = query.where(
      sql<boolean>`(created_at, id) < (${q.after.createdAt}::timestamptz, ${q.after.id}::uuid)`,
    );
  const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
  const last = rows.at(-1);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      createdAt: new Date(r.created_at).toISOString(),
      chartId: r.chart_id,
      symbol: r.symbol,
      interval: r.interval,
      status: r.status,
      model: r.model,
      trend: r.trend,
      recommendation: r.recommendation,
      entryPrice: r.entry_price,
      stopLoss: r.stop_loss,
      takeProfit: r.take_profit,
      riskRewardRatio: r.risk_reward,
      confidence: r.confidence,
    })),
    next: rows.length === q.limit && last ? { createdAt: last.cursor_at, id: last.id } : null,
  };
}
