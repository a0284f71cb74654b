import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { openObjectStore, signingConfigFromEnv } from '@chartwright/object-store';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { AnalysisWatch } from './analysis-watch.js';
import { registerGateway } from './app.js';
import { forgetCallers } from './auth/authenticate.js';
import { hashPassword, verifyPassword } from './auth/passwords.js';
import { PrincipalCache } from './auth/principals.js';
import { BacktestWatch } from './backtest-watch.js';
import { loadGatewayConfig } from './config.js';
import { startConsumers } from './consumers.js';
import type { GatewayContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { GatewayDb } from './db/schema.js';
import { ApiError } from './errors.js';
import { GatewayEvents, SERVICE } from './events.js';
import { MultiTimeframeWatch } from './multi-timeframe-watch.js';
import { RateLimiter } from './plugins/rate-limit.js';
import { UsageBatcher } from './plugins/usage.js';
import { createUser } from './routes/auth.js';

export { loadGatewayConfig } from './config.js';
export { SERVICE } from './events.js';

/** The REST API: identity, access, rate limits, and the public face of the other services. */
export const startGateway: ServiceFactory = async (rt): Promise<RunningService> => {
  const config = loadGatewayConfig(rt.env);
  const signing = signingConfigFromEnv(rt.env);
  const logger = rt.logger.child({ service: SERVICE });
  if (signing.secretIsDefault)
    logger.warn('SIGNING_SECRET is not set: signing file links with a development secret');
  if (config.jwtSecretIsDefault)
    logger.warn('JWT_SECRET is not set: using a development secret (refused in production)');
  const { database, relay } = await openServiceStore<GatewayDb>(rt, 'gateway', migrations);
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        maxRetriesPerRequest: 1,
        connectTimeout: 2_000,
        commandTimeout: 1_000,
        // While Redis is away commands fail at once (limits fall back to the process), not queue.
        enableOfflineQueue: false,
        // Commands issued in the same tick share one write: fewer syscalls under load.
        enableAutoPipelining: true,
      })
    : undefined;
  redis?.on('error', () => undefined); // reported, rate-limited, by the limiter
  const partial = {
    db: database.db,
    bus: rt.bus,
    relay,
    events: new GatewayEvents(relay),
    clock: systemClock,
    config,
    logger,
    objects: openObjectStore(rt.env),
    analyses: new AnalysisWatch(rt.bus, logger),
    multiTimeframe: new MultiTimeframeWatch(rt.bus),
    backtests: new BacktestWatch(rt.bus, logger),
    signing,
    draining: rt.draining,
    principals: new PrincipalCache(config.principalCache.max, config.principalCache.ttlMs),
    limiter: new RateLimiter(redis, config.redisKeyPrefix, logger),
  };
  const ctx: GatewayContext = {
    ...partial,
    usage: new UsageBatcher(partial as GatewayContext, config.usageFlushMs),
  };
  await bootstrapAdmin(ctx);
  const subs = await startConsumers(ctx);
  // Idempotency keys are kept 24 hours; expired ones are removed in the background.
  const sweep = setInterval(() => {
    database.db
      .deleteFrom('idempotency_keys')
      .where('expires_at', '<', new Date())
      .execute()
      .catch((err) => logger.warn({ err }, 'idempotency key sweep failed'));
  }, 15 * 60_000);
  sweep.unref();
  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    routes: async (app: FastifyInstance) => {
      await registerGateway(app, ctx);
    },
    async stop() {
      clearInterval(sweep);
      // The HTTP server has stopped answering: what it served is written before the outbox stops.
      await ctx.usage.close();
      await stopAll(subs, relay, database);
      ctx.limiter.close();
      await redis?.quit().catch(() => undefined);
      await ctx.objects.close?.();
    },
  };
};

/**
 * `ADMIN_EMAIL` / `ADMIN_PASSWORD`: creates that account as an admin, or promotes it, but only when
 * it knows that password: anybody may have signed up with the email first (when sign-ups are not
 * verified), and must not be made admin by a restart. An account of that address still waiting
 * for its confirmation is the operator's: it gets ADMIN_PASSWORD and is confirmed.
 */
async function bootstrapAdmin(ctx: GatewayContext): Promise<void> {
  const admin = ctx.config.admin;
  if (!admin) return;
  const find = () =>
    ctx.db
      .selectFrom('users')
      .select(['id', 'role', 'password_hash', 'email_verified_at'])
      .where('email', '=', admin.email)
      .executeTakeFirst();
  let existing = await find();
  if (!existing) {
    try {
      await createUser(ctx, {
        email: admin.email,
        password: admin.password,
        name: 'Administrator',
        role: 'admin',
      });
      ctx.logger.info({ email: admin.email }, 'admin account created');
      return;
    } catch (err) {
      // Another replica starting at the same moment created it first.
      if (!(err instanceof ApiError && err.code === 'CONFLICT')) throw err;
      existing = await find();
    }
  }
  if (!existing) return;
  if (!existing.email_verified_at) {
    const passwordHash = await hashPassword(admin.password);
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('email_verifications').where('user_id', '=', existing.id).execute();
      await trx
        .updateTable('users')
        .set({
          role: 'admin',
          password_hash: passwordHash,
          email_verified_at: new Date(),
          updated_at: new Date(),
        })
        .where('id', '=', existing.id)
        .execute();
    });
    await forgetCallers(ctx, { userId: existing.id });
    ctx.logger.info({ email: admin.email }, 'unconfirmed account of ADMIN_EMAIL taken over as admin');
    return;
  }
  if (existing.role === 'admin') return;
  if (!(await verifyPassword(admin.password, existing.password_hash))) {
    ctx.logger.error(
      { email: admin.email },
      'ADMIN_EMAIL names an account whose password is not ADMIN_PASSWORD: not promoted to admin',
    );
    return;
  }
  await ctx.db
    .updateTable('users')
    .set({ role: 'admin', updated_at: new Date() })
    .where('id', '=', existing.id)
    .execute();
  await forgetCallers(ctx, { userId: existing.id });
  ctx.logger.info({ email: admin.email }, 'account promoted to admin');
}
