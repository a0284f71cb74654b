import type { Migration } from 'kysely/migration';
import * as init from './2026-11-27T00-00-00-init.js';
import * as chartImgUsage from './2026-12-03T00-00-00-chart-img-usage.js';
import * as idempotencyKey from './2026-12-04T00-00-00-idempotency-key.js';
import * as chartBars from './2026-12-06T13-00-00-chart-bars.js';

/** Frozen once merged; listed here so bundling keeps them. */
export const migrations: Record<string, Migration> = {
  '2026-11-27T00-00-00-init': init,
  '2026-12-03T00-00-00-chart-img-usage': chartImgUsage,
  '2026-12-04T00-00-00-idempotency-key': idempotencyKey,
  '2026-12-06T13-00-00-chart-bars': chartBars,
};
