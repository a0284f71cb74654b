import { type Generated, type Kysely, sql } from 'kysely';
import type { Migration } from 'kysely/migration';

/** Tables every service has: the transactional outbox and the consumer inbox. */
export const kitMigrations: Record<string, Migration> = {
  '0000-kit-01-outbox': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('outbox')
        .addColumn('id', 'uuid', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('payload', 'jsonb', (c) => c.notNull())
        .addColumn('headers', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('outbox_created_idx').on('outbox').column('created_at').execute();
    },
  },
  '0000-kit-02-inbox': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('inbox')
        .addColumn('consumer', 'text', (c) => c.notNull())
        .addColumn('event_id', 'uuid', (c) => c.notNull())
        .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('inbox_pk', ['consumer', 'event_id'])
        .execute();
    },
  },
};

export interface OutboxTable {
  id: string;
  subject: string;
  payload: unknown;
  headers: Generated<Record<string, string>>;
  created_at: Generated<Date>;
  attempts: Generated<number>;
  last_error: string | null;
}

export interface InboxTable {
  consumer: string;
  event_id: string;
  processed_at: Generated<Date>;
}

/** Mix into a service's database type so the kit's helpers can use its tables. */
export interface KitTables {
  outbox: OutboxTable;
  inbox: InboxTable;
}
