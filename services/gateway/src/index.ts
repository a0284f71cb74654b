import {
  openServiceStore,
  type RunningService,
  type ServiceFactory,
  stopAll,
  systemClock,
} from '@chartwright/kit';
import { openObjectStore, signingConfigFromEnv } from '@chartwright/object-store';
import type { FastifyInstance } from 'fastify';
import { AnalysisWatch } from './analysis-watch.js';
import { registerGateway } from './app.js';
import { verifyPassword } from './auth/passwords.js';
import { loadGatewayConfig } from './config.js';
import { startConsumers } from './consumers.js';
import type { GatewayContext } from './context.js';
import { migrations } from './db/migrations/index.js';
import type { GatewayDb } from './db/schema.js';
import { ApiError } from './errors.js';
import { GatewayEvents, SERVICE } from './events.js';
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
  const ctx: GatewayContext = {
    db: database.db,
    bus: rt.bus,
    relay,
    events: new GatewayEvents(relay, rt.bus),
    clock: systemClock,
    config,
    logger,
    objects: openObjectStore(rt.env),
    analyses: new AnalysisWatch(rt.bus, logger),
    signing,
    draining: rt.draining,
  };
  await bootstrapAdmin(ctx);
  const subs = await startConsumers(ctx, ctx.analyses);
  // Idempotency keys are kept 24 hours; expired ones are removed in the background.
  const sweep = setInterval(() => {
    database.db
      .deleteFrom('idempotency_keys')
      .where('expires_at', '<', new Date())
      .execute()
      .catch((err) => logger.warn({ err }, 'idempotency key sweep failed'));
  }, 15 * 60_000);
  sweep.unref();
  const closers: (() => Promise<void>)[] = [];
  return {
    name: SERVICE,
    checks: { database: () => database.ping() },
    routes: async (app: FastifyInstance) => {
      closers.push(await registerGateway(app, ctx));
    },
    async stop() {
      clearInterval(sweep);
      for (const close of closers) await close();
      await stopAll(subs, relay, database);
      await ctx.objects.close?.();
    },
  };
};

/**
 * `ADMIN_EMAIL` / `ADMIN_PASSWORD`: creates that account as an admin, or promotes it, but only when
 * it knows that password: anybody may have signed up with the email first (signups are not
 * verified), and must not be made admin by a restart.
 */
async function bootstrapAdmin(ctx: GatewayContext): Promise<void> {
  const admin = ctx.config.admin;
  if (!admin) return;
  const find = () =>
    ctx.db
      .selectFrom('users')
      .select(['id', 'role', 'password_hash'])
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
  if (!existing || existing.role === 'admin') return;
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
  ctx.logger.info({ email: admin.email }, 'account promoted to admin');
}
