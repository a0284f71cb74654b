import type { Logger } from 'pino';
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
}): Promise<MessageBus> {
  if (!opts.natsUrl) return new MemoryBus(opts.logger, undefined, opts.statePath);
  const bus = await JetStreamBus.connect({
    servers: opts.natsUrl.split(',').map((s) => s.trim()),
    name: opts.name,
    logger: opts.logger,
    streamPrefix: opts.prefix ? `${opts.prefix}_` : undefined,
  });
  await bus.ensureStreams();
  return bus;
}
