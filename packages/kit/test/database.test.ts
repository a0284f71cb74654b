import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { migrateToLatest } from '../src/db/migrate.js';
import { openDatabase } from '../src/index.js';
import { createTestDatabase } from '../src/testing/index.js';

const tdb = await createTestDatabase();
afterAll(async () => {
  await tdb?.drop();
});

interface T {
  items: { id: number; name: string };
}

describe.runIf(tdb)('openDatabase on PostgreSQL', () => {
  it('runs repeated statements as prepared ones, and survives a table changing shape under them', async () => {
    const database = openDatabase<T>({ kind: 'postgres', url: tdb!.url, poolMax: 1 }, 'prep');
    const { db } = database;
    try {
      await sql`create schema prep`.execute(db);
      await sql`create table prep.items (id int primary key, name text not null)`.execute(db);
      await db.insertInto('items').values({ id: 1, name: 'a' }).execute();
      const read = () => db.selectFrom('items').selectAll().where('id', '=', 1).execute();
      expect(await read()).toEqual([{ id: 1, name: 'a' }]);
      expect(await read()).toEqual([{ id: 1, name: 'a' }]);

      // The server holds the statement under a name for this connection.
      const prepared = await sql<{ statement: string }>`select statement from pg_prepared_statements`.execute(
        db,
      );
      expect(prepared.rows.some((r) => r.statement.includes('from "prep"."items"'))).toBe(true);

      // A migration elsewhere changes the table: a prepared `select *` would now fail.
      const other = new pg.Client({ connectionString: tdb!.url });
      await other.connect();
      await other.query('alter table prep.items add column size int');
      await other.end();
      expect(await read()).toEqual([{ id: 1, name: 'a', size: null }]);
      expect(await read()).toEqual([{ id: 1, name: 'a', size: null }]);
    } finally {
      await database.destroy();
    }
  });

  it('lets replicas starting together migrate a new schema: one applies, the others wait and find it done', async () => {
    const replicas = Array.from({ length: 4 }, () =>
      openDatabase<{ items: { id: number } }>(
        { kind: 'postgres', url: tdb!.url, poolMax: 2 },
        'fresh_together',
      ),
    );
    const migrations = {
      '2026-01-01T00-00-00-items': {
        up: async (db: Kysely<any>) => {
          await db.schema
            .createTable('items')
            .addColumn('id', 'integer', (c) => c.primaryKey())
            .execute();
        },
      },
    };
    try {
      const applied = await Promise.all(
        replicas.map((r) => migrateToLatest(r.db, 'fresh_together', migrations)),
      );
      expect(applied.flat().filter((name) => name === '2026-01-01T00-00-00-items')).toHaveLength(1);
      await replicas[0]!.db.insertInto('items').values({ id: 1 }).execute();
    } finally {
      await Promise.all(replicas.map((r) => r.destroy()));
    }
  });
});
