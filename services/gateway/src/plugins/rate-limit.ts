import { meter } from '@chartwright/kit';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import { ApiError } from '../errors.js';

/** A route's extra bucket, on top of the general per-user (or per-IP) one. */
export type BucketName = 'generate' | 'analyse' | 'auth';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Also count this request in this bucket (per-plan for generate/analyse, per-IP for auth). */
    rateLimitBucket?: BucketName;
  }
}

const WINDOW_MS = 60_000;
/** Routes outside the API that load balancers and probes call. */
const EXEMPT = new Set(['/health', '/ready']);

/**
 * One round trip for every limit of a request, and the revocation epoch with it: fixed one-minute
 * windows (INCR, and PEXPIRE when the window starts), answered as `epoch, count1, ttl1, ...`.
 */
const SCRIPT = `
local out = { tonumber(redis.call('GET', KEYS[1]) or '0') }
for i = 2, #KEYS do
  local n = redis.call('INCR', KEYS[i])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    ttl = tonumber(ARGV[1])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out`;

interface Bucket {
  key: string;
  max: number;
}
interface Counted {
  count: number;
  ttlMs: number;
  max: number;
}
type LimitRedis = Redis & {
  cwLimit(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

/**
 * Counts requests against limits in Redis (shared by replicas), or in this process when there
 * is no Redis or it fails: an outage is logged (at most every 30 s, with how many requests it
 * hit), counted (`gateway.ratelimit.redis_fallbacks`), and the limits still hold per process.
 */
export class RateLimiter {
  private readonly local = new Map<string, { count: number; resetAt: number }>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly redis?: LimitRedis;
  private fallbacks = 0;
  private unlogged = 0;
  private lastLog = 0;
  private readonly fallbackCounter = meter().createCounter('gateway.ratelimit.redis_fallbacks', {
    description: 'Requests limited in process because Redis did not answer',
  });

  constructor(
    redis: Redis | undefined,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    if (redis) {
      redis.defineCommand('cwLimit', { lua: SCRIPT });
      this.redis = redis as LimitRedis;
    }
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [k, v] of this.local) if (v.resetAt <= now) this.local.delete(k);
    }, WINDOW_MS);
    this.sweeper.unref();
  }

  get epochKey(): string {
    return `${this.prefix}auth:epoch`;
  }

  /** Requests counted in process since start because Redis did not answer. */
  get fallbackCount(): number {
    return this.fallbacks;
  }

  /** Counts one request in every bucket; `epoch` is the revocation epoch when Redis answered. */
  async hit(buckets: Bucket[]): Promise<{ epoch?: number; counted: Counted[] }> {
    if (this.redis) {
      try {
        if (this.redis.status !== 'ready') throw new Error(`redis is ${this.redis.status}`);
        const keys = buckets.map((b) => `${this.prefix}rl:${b.key}`);
        const r = await this.redis.cwLimit(keys.length + 1, this.epochKey, ...keys, WINDOW_MS);
        return {
          epoch: Number(r[0]),
          counted: buckets.map((b, i) => ({
            count: Number(r[1 + 2 * i]),
            ttlMs: Number(r[2 + 2 * i]),
            max: b.max,
          })),
        };
      } catch (err) {
        this.fellBack(err);
      }
    }
    const now = Date.now();
    return {
      counted: buckets.map((b) => {
        let w = this.local.get(b.key);
        if (!w || w.resetAt <= now) {
          w = { count: 0, resetAt: now + WINDOW_MS };
          this.local.set(b.key, w);
        }
        w.count++;
        return { count: w.count, ttlMs: w.resetAt - now, max: b.max };
      }),
    };
  }

  /** Moves the revocation epoch: every replica forgets its cached callers on its next request. */
  async bumpEpoch(): Promise<number | undefined> {
    if (!this.redis) return undefined;
    try {
      return await this.redis.incr(this.epochKey);
    } catch (err) {
      this.logger.warn({ err }, 'revocation epoch not moved (Redis); other replicas learn it by event');
      return undefined;
    }
  }

  private fellBack(err: unknown): void {
    this.fallbacks++;
    this.unlogged++;
    this.fallbackCounter.add(1);
    const now = Date.now();
    if (now - this.lastLog < 30_000) return;
    this.logger.error(
      { err: (err as Error)?.message ?? String(err), requests: this.unlogged, total: this.fallbacks },
      'rate limits: Redis unavailable; limiting per process instead',
    );
    this.lastLog = now;
    this.unlogged = 0;
  }

  close(): void {
    clearInterval(this.sweeper);
  }
}

/** Sets the `RateLimit-*` headers of the tightest bucket; past any limit, 429 with `Retry-After`. */
function enforce(reply: FastifyReply, counted: Counted[]): void {
  let tightest = counted[0]!;
  for (const c of counted) if (c.max - c.count < tightest.max - tightest.count) tightest = c;
  const reset = Math.max(1, Math.ceil(tightest.ttlMs / 1000));
  reply.header('ratelimit-limit', tightest.max);
  reply.header('ratelimit-remaining', Math.max(0, tightest.max - tightest.count));
  reply.header('ratelimit-reset', reset);
  if (tightest.count > tightest.max) {
    reply.header('retry-after', reset);
    throw new ApiError(
      'RATE_LIMIT_EXCEEDED',
      `rate limit of ${tightest.max} requests a minute exceeded; retry in ${reset} seconds`,
    );
  }
}

/**
 * Per-user limits (per IP for anonymous calls) on every route, plus a route's own bucket, all
 * counted in one Redis call. A route takes a per-plan bucket by listing `generation` or
 * `analysis` in its `preHandler` (they only mark it), or sets `config.rateLimitBucket`.
 * `onEpoch` is told the revocation epoch each time Redis answers.
 */
export function registerRateLimits(
  app: FastifyInstance,
  config: GatewayConfig,
  limiter: RateLimiter,
  onEpoch: (req: FastifyRequest, epoch: number) => Promise<void>,
): {
  generation: preHandlerAsyncHookHandler;
  analysis: preHandlerAsyncHookHandler;
  failedAuth: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
} {
  const generation: preHandlerAsyncHookHandler = async () => {};
  const analysis: preHandlerAsyncHookHandler = async () => {};
  const markers = new Map<unknown, BucketName>([
    [generation, 'generate'],
    [analysis, 'analyse'],
  ]);
  app.addHook('onRoute', (route) => {
    const hooks = route.preHandler;
    if (!hooks) return;
    const list = Array.isArray(hooks) ? hooks : [hooks];
    const bucket = list.map((h) => markers.get(h)).find((b) => b !== undefined);
    if (!bucket) return;
    route.config = { ...route.config, rateLimitBucket: bucket };
    route.preHandler = list.filter((h) => !markers.has(h));
  });
  const limits = config.rateLimits;
  app.addHook('preHandler', async (req, reply) => {
    if (EXEMPT.has(req.routeOptions.url ?? '')) return;
    const caller = req.caller;
    const buckets: Bucket[] = [
      { key: caller ? `u:${caller.id}` : `ip:${req.ip}`, max: limits.generalPerMin },
    ];
    const extra = req.routeOptions.config.rateLimitBucket;
    if (extra === 'auth') buckets.push({ key: `auth:${req.ip}`, max: limits.authPerMin });
    else if (extra)
      buckets.push({
        key: `${extra}:${caller ? caller.id : `ip:${req.ip}`}`,
        max: limits.heavyPerMin[caller?.plan ?? 'free'],
      });
    const { epoch, counted } = await limiter.hit(buckets);
    if (epoch !== undefined) await onEpoch(req, epoch);
    enforce(reply, counted);
  });
  return {
    generation,
    analysis,
    // Requests whose credentials fail never reach the per-user limit (there is no user): they are
    // counted per IP instead, as signup and login are, so guessing keys or tokens is slowed down.
    failedAuth: async (req, reply) =>
      enforce(reply, (await limiter.hit([{ key: `authfail:${req.ip}`, max: limits.authPerMin }])).counted),
  };
}
