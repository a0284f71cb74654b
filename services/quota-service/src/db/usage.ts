import type { UsageDay } from '@chartwright/contracts';
import { type Insertable, type Kysely, sql } from 'kysely';
import type { ApiUsageTable, QuotaDb } from './schema.js';

/**
 * One ledger row, keyed by the event it comes from: a redelivery conflicts and changes nothing,
 * in one statement instead of an inbox transaction.
 */
export async function insertUsage(db: Kysely<QuotaDb>, row: Insertable<ApiUsageTable>): Promise<void> {
  await db
    .insertInto('api_usage')
    .values(row)
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Daily request counts from the ledger, `from`..`to` inclusive (UTC dates). */
export async function dailyUsage(
  db: Kysely<QuotaDb>,
  userId: string,
  from: string,
  to: string,
): Promise<UsageDay[]> {
  const start = new Date(`${from}T00:00:00.000Z`);
  const end = new Date(new Date(`${to}T00:00:00.000Z`).getTime() + 86_400_000);
  const day = sql<string>`to_char(created_at at time zone 'UTC', 'YYYY-MM-DD')`;
  const rows = await db
    .selectFrom('api_usage')
    .select([
      day.as('date'),
      sql<number>`coalesce(sum(requests), 0)::int`.as('requests'),
      sql<number>`coalesce(sum(requests) filter (where status_code >= 400), 0)::int`.as('errors'),
      sql<number>`coalesce(sum(charts_generated), 0)::int`.as('chartsGenerated'),
      sql<number>`coalesce(sum(analyses_performed), 0)::int`.as('analysesPerformed'),
      sql<number>`coalesce(sum(tokens_used), 0)::int`.as('tokensUsed'),
    ])
    .where('user_id', '=', userId)
    .where('created_at', '>=', start)
    .where('created_at', '<', end)
    .groupBy(day)
    .orderBy(day)
    .execute();
  return rows;
}
