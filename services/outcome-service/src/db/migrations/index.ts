import type { Migration } from 'kysely/migration';
import * as init from './2026-12-14T00-00-00-init.js';

/** Frozen once merged; listed here so bundling keeps them. */
export const migrations: Record<string, Migration> = {
  '2026-12-14T00-00-00-init': init,
};
