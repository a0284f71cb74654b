import type { Migration } from 'kysely/migration';
import * as init from './2026-11-27T00-00-00-init.js';
import * as idempotencyLease from './2026-12-04T00-00-00-idempotency-lease.js';
import * as emailVerification from './2026-12-05T00-00-00-email-verification.js';

/** Frozen once merged; listed here so bundling keeps them. */
export const migrations: Record<string, Migration> = {
  '2026-11-27T00-00-00-init': init,
  '2026-12-04T00-00-00-idempotency-lease': idempotencyLease,
  '2026-12-05T00-00-00-email-verification': emailVerification,
};
