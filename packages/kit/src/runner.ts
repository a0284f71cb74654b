import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Logger } from 'pino';
import { z } from 'zod';
import { openBus } from './bus/index.js';
import type { MessageBus } from './bus/types.js';
import {
  CommonEnv,
  ConfigError,
  env,
  isConfigError,
  type NatsAuth,
  natsAuthFromEnv,
  parseEnv,
} from './config.js';
import { type DatabaseTarget, openPGlite } from './db/database.js';
import { isDatabaseUnavailable } from './db/faults.js';
import { registerHealthRoutes } from './http/health.js';
import { createHttpApp } from './http/server.js';
import { createLogger } from './logger.js';
import { registerMetricsRoute } from './metrics.js';
import type { RunningService, ServiceFactory } from './service.js';
import { startTelemetry, stopTelemetry } from './telemetry.js';

export interface HostOptions {
  /** Process name, for logs and traces. */
  name: string;
  /** Started in order, stopped in reverse. */
  factories: ServiceFactory[];
  defaultPort: number;
  defaultHost: string;
  /**
   * Standalone services need PostgreSQL and NATS. The embedded host falls back to PGlite under
   * `DATA_DIR` and the in-process bus.
   */
  embedded: boolean;
}

const HostEnv = CommonEnv.extend({
  /** Grace period for in-flight work on SIGTERM. */
  SHUTDOWN_TIMEOUT_MS: env.int(20_000, 0, 600_000),
  TRUST_PROXY: env.trustProxy(),
});

/**
 * Runs services in one process: `/health` and `/ready` (and the gateway's API, if mounted) on
 * `HOST`:`PORT`, graceful drain on SIGTERM/SIGINT. Invalid configuration exits 1 with a message
 * naming the variable.
 */
export async function runHost(opts: HostOptions): Promise<void> {
  const schema = HostEnv.extend({
    HOST: z.string().min(1).default(opts.defaultHost),
    PORT: env.port(opts.defaultPort),
  });
  let cfg: z.infer<typeof schema>;
  let natsAuth: NatsAuth | undefined;
  try {
    cfg = parseEnv(schema);
    natsAuth = natsAuthFromEnv(cfg);
    if (!opts.embedded) {
      const missing = (['DATABASE_URL', 'NATS_URL'] as const).filter((k) => !cfg[k]);
      if (missing.length)
        throw new ConfigError(
          missing.map((variable) => ({ variable, problem: 'required for a standalone service' })),
        );
    }
  } catch (err) {
    return fail(opts.name, err);
  }
  const logger = createLogger(opts.name, cfg.LOG_LEVEL);
  survivesLostDatabase(logger);
  await startTelemetry(opts.name);
  let bus: MessageBus | undefined;
  let pglite: PGlite | undefined;
  const services: RunningService[] = [];
  let shuttingDown = false;
  const draining = new AbortController();
  const app = createHttpApp({ logger: logger.child({ component: 'http' }), trustProxy: cfg.TRUST_PROXY });
  try {
    let database: DatabaseTarget;
    if (cfg.DATABASE_URL) {
      database = { kind: 'postgres', url: cfg.DATABASE_URL, poolMax: cfg.DATABASE_POOL_MAX };
    } else {
      const dir = path.resolve(cfg.DATA_DIR, 'pglite');
      mkdirSync(dir, { recursive: true });
      pglite = await openPGlite(dir);
      database = { kind: 'pglite', pglite };
    }
    if (!cfg.NATS_URL) mkdirSync(path.resolve(cfg.DATA_DIR), { recursive: true });
    bus = await openBus({
      natsUrl: cfg.NATS_URL,
      name: opts.name,
      logger,
      prefix: cfg.BUS_PREFIX,
      auth: natsAuth,
      // In-process events outlive a restart, like the database beside them.
      statePath: path.resolve(cfg.DATA_DIR, 'bus-state.json'),
    });
    const serviceEnv = { ...process.env };
    if (opts.embedded && !serviceEnv.PUBLIC_URL) {
      // Links the API hands out (signed image URLs) point back at this process.
      const host = cfg.HOST === '0.0.0.0' || cfg.HOST === '::' ? '127.0.0.1' : cfg.HOST;
      serviceEnv.PUBLIC_URL = `http://${host.includes(':') ? `[${host}]` : host}:${cfg.PORT}`;
    }
    for (const factory of opts.factories) {
      services.push(await factory({ bus, database, logger, env: serviceEnv, draining: draining.signal }));
    }
    const b = bus;
    registerHealthRoutes(
      app,
      () =>
        Object.assign({ bus: () => b.ping() }, ...services.map((s) => prefixChecks(s, services.length > 1))),
      { isShuttingDown: () => shuttingDown },
    );
    registerMetricsRoute(app);
    for (const s of services) if (s.routes) await s.routes(app);
    await app.listen({ host: cfg.HOST, port: cfg.PORT });
    const where = `http://${cfg.HOST.includes(':') ? `[${cfg.HOST}]` : cfg.HOST}:${cfg.PORT}`;
    logger.info(
      { url: where, database: database.kind, bus: bus.kind, services: services.map((s) => s.name) },
      `${opts.name} listening on ${where}`,
    );
    if (opts.embedded)
      process.stdout.write(`\nChartwright is running: API at ${where}  (docs: ${where}/docs)\n\n`);
  } catch (err) {
    if (!isConfigError(err)) logger.fatal({ err }, `${opts.name} failed to start`);
    for (const s of services.reverse()) await s.stop().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    await pglite?.close().catch(() => undefined);
    return fail(opts.name, err);
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
    // In order: no new HTTP requests (answered 503) while the running ones finish, their long
    // waits cut short; then each service stops taking requests and messages and waits for its
    // handlers to answer, and closes its database; the bus closes last, after the last reply.
    draining.abort();
    await app.close().catch((err) => logger.error({ err }, 'http close failed'));
    for (const s of [...services].reverse())
      await s.stop().catch((err) => logger.error({ err, service: s.name }, 'stop failed'));
    await bus?.close().catch((err) => logger.error({ err }, 'bus close failed'));
    await pglite?.close().catch(() => undefined);
    await stopTelemetry();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** One service as its own process against PostgreSQL and NATS. */
export function runStandalone(name: string, factory: ServiceFactory, defaultPort: number): Promise<void> {
  return runHost({ name, factories: [factory], defaultPort, defaultHost: '0.0.0.0', embedded: false });
}

/**
 * A lost database session must never end the process. Every pool client listens for errors,
 * and units of work answer 503; should a stray promise or event still carry such an error to
 * the top, it is logged, not fatal. Anything else keeps Node's behaviour: log and exit.
 */
function survivesLostDatabase(logger: Logger): void {
  const onFault = (kind: string) => (err: unknown) => {
    if (isDatabaseUnavailable(err)) {
      logger.warn({ err }, `database connection lost (${kind}); continuing`);
      return;
    }
    logger.fatal({ err }, kind);
    process.exit(1);
  };
  process.on('unhandledRejection', onFault('unhandled rejection'));
  process.on('uncaughtException', onFault('uncaught exception'));
}

function prefixChecks(s: RunningService, prefix: boolean) {
  if (!prefix) return s.checks;
  return Object.fromEntries(Object.entries(s.checks).map(([k, v]) => [`${s.name}.${k}`, v]));
}

function fail(name: string, err: unknown): never {
  const message = isConfigError(err)
    ? err.message
    : `failed to start: ${(err as Error)?.message ?? String(err)}`;
  process.stderr.write(`${name}: ${message}\n`);
  process.exit(1);
}
