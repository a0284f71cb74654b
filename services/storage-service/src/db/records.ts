import type { Kysely, Transaction } from 'kysely';
import type { StorageDb } from './schema.js';

type Db = Kysely<StorageDb> | Transaction<StorageDb>;

export interface ObjectRecord {
  key: string;
  ownerId: string;
  chartId: string | null;
  size: number;
  sha256: string;
  contentType: string;
}

/** Tombstones are kept long enough for any copy still in flight (retries included) to see them. */
const TOMBSTONE_DAYS = 30;

/** Records an object; recording the same key again updates it. */
export async function upsertRecord(db: Db, r: ObjectRecord): Promise<void> {
  const values = {
    owner_id: r.ownerId,
    chart_id: r.chartId,
    size: r.size,
    sha256: r.sha256,
    content_type: r.contentType,
  };
  await db
    .insertInto('objects')
    .values({ key: r.key, ...values })
    .onConflict((oc) => oc.column('key').doUpdateSet(values))
    .execute();
}

export async function findRecord(db: Db, key: string): Promise<ObjectRecord | undefined> {
  const row = await db.selectFrom('objects').selectAll().where('key', '=', key).executeTakeFirst();
  return (
    row && {
      key: row.key,
      ownerId: row.owner_id,
      chartId: row.chart_id,
      size: Number(row.size),
      sha256: row.sha256,
      contentType: row.content_type,
    }
  );
}

export async function chartKeys(db: Db, chartId: string, ownerId: string): Promise<string[]> {
  const rows = await db
    .selectFrom('objects')
    .select('key')
    .where('chart_id', '=', chartId)
    .where('owner_id', '=', ownerId)
    .execute();
  return rows.map((r) => r.key);
}

export async function isChartDeleted(db: Db, chartId: string, ownerId: string): Promise<boolean> {
  const row = await db
    .selectFrom('deleted_charts')
    .select('chart_id')
    .where('chart_id', '=', chartId)
    .where('owner_id', '=', ownerId)
    .executeTakeFirst();
  return row !== undefined;
}

/** Marks a chart deleted (so late copies are dropped) and prunes old marks. */
export async function markChartDeleted(db: Db, chartId: string, ownerId: string): Promise<void> {
  await db
    .insertInto('deleted_charts')
    .values({ chart_id: chartId, owner_id: ownerId })
    .onConflict((oc) => oc.columns(['chart_id', 'owner_id']).doNothing())
    .execute();
  await db
    .deleteFrom('deleted_charts')
    .where('deleted_at', '<', new Date(Date.now() - TOMBSTONE_DAYS * 86_400_000))
    .execute();
}

/** Removes a chart's records; returns the keys removed. */
export async function deleteChartRecords(db: Db, chartId: string, ownerId: string): Promise<string[]> {
  const rows = await db
    .deleteFrom('objects')
    .where('chart_id', '=', chartId)
    .where('owner_id', '=', ownerId)
    .returning('key')
    .execute();
  return rows.map((r) => r.key);
}

export async function listChartRecords(db: Db, chartId: string, ownerId: string) {
  const rows = await db
    .selectFrom('objects')
    .selectAll()
    .where('chart_id', '=', chartId)
    .where('owner_id', '=', ownerId)
    .orderBy('created_at')
    .execute();
  return rows.map((r) => ({
    key: r.key,
    chartId: r.chart_id,
    size: Number(r.size),
    sha256: r.sha256,
    contentType: r.content_type,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

export async function alreadyApplied(db: Db, consumer: string, eventId: string): Promise<boolean> {
  const row = await db
    .selectFrom('inbox')
    .select('event_id')
    .where('consumer', '=', consumer)
    .where('event_id', '=', eventId)
    .executeTakeFirst();
  return row !== undefined;
}
