import type { Clock, MessageBus, OutboxRelay } from '@chartwright/kit';
import type { ObjectStore, SigningConfig } from '@chartwright/object-store';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AnalysisWatch } from './analysis-watch.js';
import type { PrincipalCache } from './auth/principals.js';
import type { BacktestWatch } from './backtest-watch.js';
import type { GatewayConfig } from './config.js';
import type { GatewayDb } from './db/schema.js';
import type { GatewayEvents } from './events.js';
import type { MultiTimeframeWatch } from './multi-timeframe-watch.js';
import type { RateLimiter } from './plugins/rate-limit.js';
import type { UsageBatcher } from './plugins/usage.js';

/** Everything the gateway's routes and plugins use. */
export interface GatewayContext {
  db: Kysely<GatewayDb>;
  bus: MessageBus;
  relay: OutboxRelay;
  /** Builds, stores and sends the gateway's events (`events.ts`). */
  events: GatewayEvents;
  clock: Clock;
  config: GatewayConfig;
  logger: Logger;
  /** Read access to chart images, for signed links and image downloads. */
  objects: ObjectStore;
  /** Callers resolved recently (see `auth/principals.ts`). */
  principals: PrincipalCache;
  /** Rate limits (Redis, or per process) and the revocation epoch. */
  limiter: RateLimiter;
  /** The usage ledger's batches. */
  usage: UsageBatcher;
  /** Analyses in progress, as this replica learns of them from events. */
  analyses: AnalysisWatch;
  /** Multi-timeframe runs settled, as this replica learns of them from events. */
  multiTimeframe: MultiTimeframeWatch;
  /** Backtests in progress, as this replica learns of them from events. */
  backtests: BacktestWatch;
  /** Secret, public URL and lifetime of signed file links (`/v1/files/*`). */
  signing?: SigningConfig;
  /** Aborted when the process starts to drain: long waits answer with what they have. */
  draining?: AbortSignal;
}
