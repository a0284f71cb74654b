import { type Kysely, sql } from 'kysely';

/**
 * Sign-up confirms the address before the account can log in (SIGNUP_VERIFY_EMAIL). Accounts made
 * before this count as confirmed. A pending sign-up keeps its own password hash with its token, so
 * the account gets the password of whoever proves they own the address, not of the last sign-up.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('users').addColumn('email_verified_at', 'timestamptz').execute();
  await db.updateTable('users').set({ email_verified_at: sql`created_at` }).execute();
  await db.schema
    .createTable('email_verifications')
    .addColumn('token_hash', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('name', 'text')
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('email_verifications_user_idx')
    .on('email_verifications')
    .column('user_id')
    .execute();
}
