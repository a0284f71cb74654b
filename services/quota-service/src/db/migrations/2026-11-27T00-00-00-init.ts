import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('user_quotas')
    .addColumn('user_id', 'uuid', (c) => c.primaryKey())
    .addColumn('plan', 'text', (c) => c.notNull())
    .addColumn('charts_used', 'integer', (c) => c.notNull().defaultTo(0).check(sql`charts_used >= 0`))
    .addColumn('analyses_used', 'integer', (c) => c.notNull().defaultTo(0).check(sql`analyses_used >= 0`))
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('reservations')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('period_start', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('settled_at', 'timestamptz')
    .execute();
  await db.schema
    .createIndex('reservations_held_expiry_idx')
    .on('reservations')
    .column('expires_at')
    .where(sql.ref('state'), '=', 'held')
    .execute();

  await db.schema
    .createTable('api_usage')
    .addColumn('id', 'uuid', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull())
    .addColumn('endpoint', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    .addColumn('status_code', 'integer', (c) => c.notNull())
    .addColumn('duration_ms', 'double precision', (c) => c.notNull().defaultTo(0))
    .addColumn('charts_generated', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('analyses_performed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('tokens_used', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('api_usage_user_time_idx')
    .on('api_usage')
    .columns(['user_id', 'created_at'])
    .execute();
}
