import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { openBus } from './bus/index.js';
import type { MessageBus } from './bus/types.js';
import { CommonEnv, ConfigError, env, parseEnv } from './config.js';
import { registerHealthRoutes } from './http/health.js';
import { createLogger } from './logger.js';
import type { RunningService, ServiceFactory } from './service.js';
import { startTelemetry, stopTelemetry } from './telemetry.js';

const StandaloneEnv = CommonEnv.extend({
  DATABASE_URL: env.url(),
  NATS_URL: z.string().min(1),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Grace period for in-flight work on SIGTERM. */
  SHUTDOWN_TIMEOUT_MS: env.int(20_000, 0, 600_000),
});

/**
 * Runs one service as its own process against PostgreSQL and NATS: `/health` and `/ready` on
 * `PORT`, graceful drain on SIGTERM/SIGINT. Exits 1 with a message naming the variable when the
 * configuration is invalid.
 */
export async function runStandalone(
  name: string,
  factory: ServiceFactory,
  defaultPort: number,
): Promise<void> {
  let cfg: z.infer<typeof StandaloneEnv> & { PORT: number };
  try {
    cfg = parseEnv(StandaloneEnv.extend({ PORT: env.port(defaultPort) }));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(name, cfg.LOG_LEVEL);
  await startTelemetry(name);
  let bus: MessageBus | undefined;
  let service: RunningService | undefined;
  let shuttingDown = false;
  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    disableRequestLogging: true,
  }) as unknown as FastifyInstance;
  try {
    bus = await openBus({ natsUrl: cfg.NATS_URL, name, logger });
    service = await factory({
      bus,
      database: { kind: 'postgres', url: cfg.DATABASE_URL, poolMax: cfg.DATABASE_POOL_MAX },
      logger,
      env: process.env,
    });
    const b = bus;
    const s = service;
    registerHealthRoutes(app, () => ({ ...s.checks, bus: () => b.ping() }), {
      isShuttingDown: () => shuttingDown,
    });
    if (s.routes) await s.routes(app);
    const address = await app.listen({ host: cfg.HOST, port: cfg.PORT });
    logger.info({ address }, `${name} listening`);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${name}: ${err.message}\n`);
    } else {
      logger.fatal({ err }, `${name} failed to start`);
    }
    await service?.stop().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    process.exit(1);
  }

  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('shutdown timed out; exiting');
      process.exit(1);
    }, cfg.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    await app.close().catch((err) => logger.error({ err }, 'http close failed'));
    await service?.stop().catch((err) => logger.error({ err }, 'service stop failed'));
    await bus?.close().catch((err) => logger.error({ err }, 'bus close failed'));
    await stopTelemetry();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
