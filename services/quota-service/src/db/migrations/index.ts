import type { Migration } from 'kysely/migration';
import * as init from './2026-11-27T00-00-00-init.js';
import * as planSetAt from './2026-12-04T00-00-00-plan-set-at.js';
import * as thresholdNotices from './2026-12-10T00-00-00-threshold-notices.js';
import * as usageBatches from './2026-12-11T00-00-00-usage-batches.js';

/** Frozen once merged; listed here so bundling keeps them. */
export const migrations: Record<string, Migration> = {
  '2026-11-27T00-00-00-init': init,
  '2026-12-04T00-00-00-plan-set-at': planSetAt,
  '2026-12-10T00-00-00-threshold-notices': thresholdNotices,
  '2026-12-11T00-00-00-usage-batches': usageBatches,
};
