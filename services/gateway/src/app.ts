import fastifyJwt from '@fastify/jwt';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { authenticator } from './auth/authenticate.js';
import type { GatewayContext } from './context.js';
import { apiErrorHandler, installErrorHandlers } from './errors.js';
import { publicRoutes, swaggerOptions } from './openapi.js';
import { registerIdempotency } from './plugins/idempotency.js';
import { registerInputRules } from './plugins/input.js';
import { registerRateLimits } from './plugins/rate-limit.js';
import { registerUsageReporting } from './plugins/usage.js';
import { adminRoutes } from './routes/admin.js';
import { analysisRoutes } from './routes/analyses.js';
import { apiKeyRoutes } from './routes/api-keys.js';
import { authRoutes } from './routes/auth.js';
import { backtestRoutes } from './routes/backtests.js';
import { chartRoutes } from './routes/charts.js';
import { compareRoutes } from './routes/compare.js';
import type { RouteDeps } from './routes/deps.js';
import { exportRoutes } from './routes/exports.js';
import { fileRoutes } from './routes/files.js';
import { mcpRoutes } from './routes/mcp.js';
import { multiTimeframeRoutes } from './routes/multi-timeframe.js';
import { notificationRoutes, unsubscribeRoutes } from './routes/notifications.js';
import { outcomeRoutes } from './routes/outcomes.js';
import { userRoutes } from './routes/user.js';
import { webhookRoutes } from './routes/webhooks.js';

/**
 * Mounts the REST API on `app`: error envelope, zod validation, OpenAPI at `/openapi.json`
 * and `/docs`, JWT and API key auth, rate limits, idempotency keys and usage reporting.
 */
export async function registerGateway(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandlers(app);
  registerInputRules(app, { bodyLimit: ctx.config.bodyLimit });

  await app.register(swagger, swaggerOptions());
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(fastifyJwt, {
    secret: ctx.config.jwtSecret,
    sign: { algorithm: 'HS256', expiresIn: ctx.config.jwtExpiresIn },
    // A token without an expiry would never end: refused. Verified tokens are cached (by fast-jwt,
    // until their expiry) so a repeated token costs no signature check.
    verify: { algorithms: ['HS256'], requiredClaims: ['exp'], cache: 10_000 },
  });

  const authenticate = authenticator(app, ctx);
  const limits = registerRateLimits(app, ctx.config, ctx.limiter, async (req, epoch) => {
    // Something was revoked since this replica cached its callers: this one is resolved again.
    if (ctx.principals.advance(epoch) && req.caller) await authenticate(req);
  });
  const deps: RouteDeps = { generationRateLimit: limits.generation, analysisRateLimit: limits.analysis };

  await app.register(async (open) => {
    publicRoutes(open);
    await authRoutes(open, ctx);
    // Signed image links work without a token.
    await fileRoutes(open, ctx, deps);
    // Unsubscribe links in mails carry their own signature.
    await unsubscribeRoutes(open, ctx);
  });

  await app.register(async (secured) => {
    // The same handler one level down: an error while answering an error (an onSend hook that
    // records the answer, with the database gone) falls to the parent handler, which must be
    // ours too, not Fastify's plain `{"statusCode","error","message"}`.
    secured.setErrorHandler(apiErrorHandler);
    secured.addHook('onRequest', async (req, reply) => {
      try {
        await authenticate(req);
      } catch (err) {
        // Past the limit this answers 429 instead of the authentication error.
        await limits.failedAuth(req, reply);
        throw err;
      }
    });
    registerIdempotency(secured, ctx);
    registerUsageReporting(secured, ctx.usage);
    await userRoutes(secured, ctx);
    await apiKeyRoutes(secured, ctx);
    await adminRoutes(secured, ctx);
    await chartRoutes(secured, ctx, deps);
    await analysisRoutes(secured, ctx, deps);
    await compareRoutes(secured, ctx, deps);
    await multiTimeframeRoutes(secured, ctx, deps);
    await exportRoutes(secured, ctx);
    await webhookRoutes(secured, ctx);
    await notificationRoutes(secured, ctx);
    await outcomeRoutes(secured, ctx);
    await backtestRoutes(secured, ctx, deps);
    await mcpRoutes(secured);
  });
}
