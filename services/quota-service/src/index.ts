import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  startMessaging,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { loadQuotaConfig } from './config.js';
import { consumers } from './consumers.js';
import type { QuotaContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { QuotaDb } from './db/schema.js';
import { handlers } from './handlers.js';
import { Quotas } from './quotas.js';

export { QuotaStore } from './db/quota-store.js';
export { DEFAULT_PLANS, nextReset, periodStart } from './plans.js';

export const SERVICE = 'quota-service';
const QUEUE = 'quota-service';

/** Plans, monthly quotas, reservations and the usage ledger. */
export const startQuotaService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadQuotaConfig(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  const { database, relay } = await openServiceStore<QuotaDb>(rt, 'quota', migrations);
  const ctx: QuotaContext = { db: database.db, bus: rt.bus, relay, config, logger, clock: systemClock };
  const quotas = new Quotas(ctx);
  const subs = await startMessaging(rt.bus, logger, {
    queue: QUEUE,
    handlers: handlers(quotas),
    consumers: consumers(quotas),
  }).catch(async (err) => {
    await stopAll([], relay, database);
    throw err;
  });
  const sweeper = setInterval(
    () => quotas.sweep().catch((err) => logger.warn({ err }, 'reservation sweep failed')),
    config.sweepIntervalMs,
  );
  sweeper.unref();

  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      clearInterval(sweeper);
      await stopAll(subs, relay, database);
    },
  };
};
