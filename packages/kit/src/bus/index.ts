import type { Logger } from 'pino';
import type { NatsAuth } from '../config.js';
import { JetStreamBus } from './jetstream.js';
import { MemoryBus } from './memory.js';
import type { MessageBus } from './types.js';

export * from './jetstream.js';
export * from './memory.js';
export * from './types.js';

/**
 * JetStream when `natsUrl` is given, else the in-process bus (kept in `statePath` across restarts
 * when given).
 */
export async function openBus(opts: {
  natsUrl?: string;
  name: string;
  logger: Logger;
  prefix?: string;
  statePath?: string;
  /** Credentials of a locked-down NATS: the streams are then checked, not created. */
  auth?: NatsAuth;
}): Promise<MessageBus> {
  if (!opts.natsUrl) return new MemoryBus(opts.logger, undefined, opts.statePath);
  const bus = await JetStreamBus.connect({
    servers: opts.natsUrl.split(',').map((s) => s.trim()),
    name: opts.name,
    logger: opts.logger,
    streamPrefix: opts.prefix ? `${opts.prefix}_` : undefined,
    auth: opts.auth,
  });
  try {
    if (opts.auth) await bus.checkStreams();
    else await bus.ensureStreams();
  } catch (err) {
    await bus.close().catch(() => undefined);
    throw err;
  }
  return bus;
}
