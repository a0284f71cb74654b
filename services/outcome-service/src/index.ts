import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  startMessaging,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { MarketData } from '@chartwright/market';
import { loadOutcomeConfig } from './config.js';
import { consumers } from './consumers.js';
import type { OutcomeContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { OutcomeDb } from './db/schema.js';
import { OutcomeEvents, SERVICE } from './events.js';
import { handlers } from './handlers.js';
import { Outcomes } from './outcomes.js';

export { loadOutcomeConfig } from './config.js';
export type { OutcomeDb } from './db/schema.js';
export { SERVICE } from './events.js';

const QUEUE = 'outcome-service';

/** Follows completed analyses to their outcome, and answers outcomes and scorecards. */
export const startOutcomeService: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadOutcomeConfig(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  const { database, relay } = await openServiceStore<OutcomeDb>(rt, 'outcome', migrations);
  const ctx: OutcomeContext = {
    db: database.db,
    bus: rt.bus,
    relay,
    config,
    logger,
    clock: systemClock,
    market: new MarketData(config.market),
  };
  const outcomes = new Outcomes(ctx, new OutcomeEvents(relay));
  const subs = await startMessaging(rt.bus, logger, {
    queue: QUEUE,
    handlers: handlers(outcomes),
    consumers: consumers(outcomes),
  }).catch(async (err) => {
    await stopAll([], relay, database);
    throw err;
  });
  // One round at a time: a round still running when the next is due skips it.
  let running: Promise<unknown> | null = null;
  const checker = setInterval(() => {
    running ??= outcomes
      .checkDue()
      .catch((err) => logger.warn({ err }, 'outcome check round failed'))
      .finally(() => {
        running = null;
      });
  }, config.checkIntervalMs);
  checker.unref();

  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    async stop() {
      clearInterval(checker);
      await stopAll(subs, relay, undefined);
      await running;
      await database.destroy();
    },
  };
};
