import type { Kysely } from 'kysely';
import { type Migration, Migrator } from 'kysely/migration';
import { kitMigrations } from './kit-migrations.js';

/**
 * Applies the kit's tables (outbox, inbox) and then the service's own migrations to its schema.
 * The migrator keeps its bookkeeping tables in that schema too, and creates it: replicas starting
 * together race for `create schema`, which it tolerates, then take turns under its advisory lock.
 * Migration names are ISO timestamps and sort in the order they must run.
 */
export async function migrateToLatest(
  db: Kysely<any>,
  schema: string,
  migrations: Record<string, Migration>,
): Promise<string[]> {
  const migrator = new Migrator({
    db,
    migrationTableSchema: schema,
    provider: { getMigrations: async () => ({ ...kitMigrations, ...migrations }) },
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
