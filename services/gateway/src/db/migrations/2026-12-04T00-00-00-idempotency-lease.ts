import type { Kysely } from 'kysely';

/**
 * Idempotency keys get a lease (renewed while their request runs, so a crashed gateway's key is
 * taken over after it runs out), an owner (the attempt holding the lease) and a work id: the key
 * the services store with the work, so a retry finds what the first attempt made.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('idempotency_keys')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('owner', 'text')
    .addColumn('work_id', 'text')
    .execute();
}
