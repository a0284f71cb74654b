import type { Migration } from 'kysely/migration';
import * as init from './2026-11-27T00-00-00-init.js';
import * as progress from './2026-12-01T00-00-00-progress.js';
import * as claimedAt from './2026-12-02T00-00-00-claimed-at.js';
import * as idempotencyKey from './2026-12-04T00-00-00-idempotency-key.js';
import * as barWindow from './2026-12-05T00-00-00-bar-window.js';
import * as multiTimeframe from './2026-12-06T00-00-00-multi-timeframe.js';
import * as backtests from './2026-12-12T00-00-00-backtests.js';
import * as backtestRetries from './2026-12-13T00-00-00-backtest-retries.js';

/** Frozen once merged; listed here so bundling keeps them. */
export const migrations: Record<string, Migration> = {
  '2026-11-27T00-00-00-init': init,
  '2026-12-01T00-00-00-progress': progress,
  '2026-12-02T00-00-00-claimed-at': claimedAt,
  '2026-12-04T00-00-00-idempotency-key': idempotencyKey,
  '2026-12-05T00-00-00-bar-window': barWindow,
  '2026-12-06T00-00-00-multi-timeframe': multiTimeframe,
  '2026-12-12T00-00-00-backtests': backtests,
  '2026-12-13T00-00-00-backtest-retries': backtestRetries,
};
