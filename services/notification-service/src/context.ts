import type { Logger, MessageBus, OutboxRelay } from '@chartwright/kit';
import type { Resolver } from '@chartwright/safe-download';
import type { Kysely } from 'kysely';
import type { NotificationConfig } from './config.js';
import type { NotificationDb } from './db/schema.js';
import type { Mailer } from './mailer.js';

/** Everything the use cases need, built once by `index.ts`. */
export interface AppContext {
  db: Kysely<NotificationDb>;
  bus: MessageBus;
  config: NotificationConfig;
  logger: Logger;
  clock: () => Date;
  relay: OutboxRelay;
  mailer: Mailer;
  /** DNS for webhook hosts (tests inject one). */
  resolver: Resolver;
}
