import path from 'node:path';
import { openServiceStore, type RunningService, type ServiceFactory, stopAll } from '@chartwright/kit';
import { type Resolver, systemResolver } from '@chartwright/safe-download';
import { loadNotificationConfig } from './config.js';
import { subscribe } from './consumers.js';
import type { AppContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { NotificationDb } from './db/schema.js';
import { Deliveries } from './deliveries.js';
import { Email } from './email.js';
import { serveHandlers } from './handlers.js';
import { fileMailer, smtpMailer } from './mailer.js';
import { Webhooks } from './webhooks.js';

export { loadNotificationConfig } from './config.js';
export type { NotificationDb } from './db/schema.js';
export { UnsubscribeTokens } from './signing.js';

export const SERVICE = 'notification-service';

export interface NotificationServiceOptions {
  /** DNS for webhook hosts (default: the system's); tests inject one. */
  resolver?: Resolver;
  clock?: () => Date;
}

/** Signed webhooks and email, from the events of the other services. */
export const notificationService =
  (opts: NotificationServiceOptions = {}): ServiceFactory =>
  async (rt): Promise<RunningService> => {
    const config = loadNotificationConfig(rt.env);
    const logger = rt.logger.child({ service: SERVICE });
    if (config.signingSecretIsDefault)
      logger.warn('SIGNING_SECRET is not set: signing unsubscribe links with a development secret');
    const mailer = config.email.smtpUrl
      ? smtpMailer(config.email.smtpUrl)
      : fileMailer(path.resolve(config.dataDir, 'mail'), logger);
    const { database, relay } = await openServiceStore<NotificationDb>(rt, 'notification', migrations);
    const ctx: AppContext = {
      db: database.db,
      bus: rt.bus,
      config,
      logger,
      clock: opts.clock ?? (() => new Date()),
      relay,
      mailer,
      resolver: opts.resolver ?? systemResolver,
    };
    const webhooks = new Webhooks(ctx);
    const email = new Email(ctx);
    const deliveries = new Deliveries(ctx, webhooks, email);
    const subs = [
      ...(await serveHandlers(rt.bus, logger, { webhooks, deliveries, email })),
      ...(await subscribe(rt.bus, logger, { ctx, deliveries, email })),
    ];
    deliveries.loop.start();
    email.loop.start();
    return {
      name: SERVICE,
      checks: { database: () => database.ping() },
      async stop() {
        await Promise.allSettled(subs.map((s) => s.stop()));
        await deliveries.stop();
        await email.loop.stop();
        mailer.close();
        await stopAll([], relay, database);
      },
    };
  };

export const startNotificationService: ServiceFactory = notificationService();
