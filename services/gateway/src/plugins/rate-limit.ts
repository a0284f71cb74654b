import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { Redis } from 'ioredis';
import type { GatewayConfig } from '../config.js';

const errorResponseBuilder = (
  _req: FastifyRequest,
  ctx: { statusCode: number; after: string; max: number },
) => {
  const err = new Error(
    `rate limit of ${ctx.max} requests a minute exceeded; retry in ${ctx.after}`,
  ) as Error & {
    statusCode: number;
  };
  err.statusCode = ctx.statusCode;
  return err;
};

/**
 * Per-user limits (per IP for anonymous calls), shared by gateway replicas through Redis when
 * `REDIS_URL` is set. Answers carry `RateLimit-*` headers and, when exceeded, `Retry-After`.
 * Returns the stricter per-plan limiters for chart generation and for analysis, and the per-IP
 * limiter of failed authentications.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  config: GatewayConfig,
): Promise<{
  generation: preHandlerAsyncHookHandler;
  analysis: preHandlerAsyncHookHandler;
  failedAuth: preHandlerAsyncHookHandler;
  close(): Promise<void>;
}> {
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 2_000, lazyConnect: false })
    : undefined;
  redis?.on('error', (err) => app.log.warn({ err: err.message }, 'redis error'));
  await app.register(rateLimit, {
    global: true,
    hook: 'preHandler',
    max: config.rateLimits.generalPerMin,
    timeWindow: 60_000,
    keyGenerator: (req) => (req.caller ? `u:${req.caller.id}` : `ip:${req.ip}`),
    enableDraftSpec: true,
    redis,
    nameSpace: `${config.redisKeyPrefix}rl:`,
    // If Redis is down the API keeps serving rather than failing every request.
    skipOnError: true,
    errorResponseBuilder,
  });
  // One bucket for generating charts, another for analysing them: a user who just made their
  // charts can still have them analysed.
  const perPlan = (what: string) =>
    app.rateLimit({
      max: (req) => config.rateLimits.heavyPerMin[req.caller?.plan ?? 'free'],
      timeWindow: 60_000,
      keyGenerator: (req) => `${what}:${req.caller?.id ?? req.ip}`,
    }) as preHandlerAsyncHookHandler;
  // Requests whose credentials fail never reach the per-user limit (there is no user): they are
  // counted per IP instead, as signup and login are, so guessing keys or tokens is slowed down.
  const failedAuth = app.rateLimit({
    max: config.rateLimits.authPerMin,
    timeWindow: 60_000,
    keyGenerator: (req) => `authfail:${req.ip}`,
  }) as preHandlerAsyncHookHandler;
  return {
    generation: perPlan('generate'),
    analysis: perPlan('analyse'),
    failedAuth,
    close: async () => void (await redis?.quit().catch(() => undefined)),
  };
}
