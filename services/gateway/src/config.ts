import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { z } from 'zod';

const GatewayEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** HMAC secret for JWTs (HS256), at least 32 bytes. Required in production. */
  JWT_SECRET: z.string().optional(),
  /** Token lifetime, e.g. `7d`, `12h`, `3600s`. */
  JWT_EXPIRES_IN: z
    .string()
    .regex(/^\d+[smhd]$/, 'must be a number followed by s, m, h or d, e.g. 7d')
    .default('7d'),
  /** Redis for rate limits shared by gateway replicas; unset keeps them in memory. */
  REDIS_URL: z.string().optional(),
  /** Requests a minute per user (or per IP when anonymous) on every route. */
  RATE_LIMIT_GENERAL_PER_MIN: env.int(300, 1, 1_000_000),
  /** Chart generation and analysis requests a minute, per plan (design document). */
  RATE_LIMIT_FREE_PER_MIN: env.int(5, 1, 1_000_000),
  RATE_LIMIT_PRO_PER_MIN: env.int(50, 1, 1_000_000),
  RATE_LIMIT_ENTERPRISE_PER_MIN: env.int(500, 1, 1_000_000),
  /** Sign-up and login attempts a minute per client IP. */
  RATE_LIMIT_AUTH_PER_MIN: env.int(30, 1, 1_000_000),
  /** Prefix of the gateway's Redis keys. */
  REDIS_KEY_PREFIX: z.string().max(64).default('cw:'),
  /** Bootstrap: this account is created (or promoted) as an admin at start-up. */
  ADMIN_EMAIL: z.email({ message: 'must be an email address' }).optional(),
  ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').optional(),
  /** Callers (per token user or API key) kept in memory so requests need no database read. */
  PRINCIPAL_CACHE_MAX: env.int(10_000, 0, 10_000_000),
  /** Safety net: a cached caller is read again after this long even without an event. */
  PRINCIPAL_CACHE_TTL_MS: env.int(60_000, 0, 3_600_000),
  /** Usage is added up in the process for this long, then written as one event per sum. */
  USAGE_FLUSH_MS: env.int(1_000, 10, 60_000),
  /** Largest accepted request body. */
  BODY_LIMIT_BYTES: env.int(1_048_576, 1_024, 50 * 1_048_576),
  /** An `Idempotency-Key`'s lease: renewed while its request runs; a retry takes over a lapsed one. */
  IDEMPOTENCY_LEASE_MS: env.int(15_000, 1_000, 600_000),
  /**
   * Sign-up mails a link that confirms the address before the account can log in, and answers the
   * same whether or not the address has an account. Default: on in production, off otherwise
   * (then sign-up answers with a token at once, and 409 for a taken address).
   */
  SIGNUP_VERIFY_EMAIL: z.enum(['true', 'false']).optional(),
  /** How long a sign-up link works. */
  SIGNUP_VERIFY_TTL_HOURS: env.int(24, 1, 24 * 30),
});

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;

const DEV_SECRET = 'chartwright-development-secret-do-not-use-in-production';

export function loadGatewayConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(GatewayEnv, source);
  let secret = e.JWT_SECRET;
  if (secret !== undefined && Buffer.byteLength(secret) < 32) {
    if (e.NODE_ENV === 'production') {
      throw new ConfigError([{ variable: 'JWT_SECRET', problem: 'must be at least 32 bytes in production' }]);
    }
  }
  if (!secret) {
    if (e.NODE_ENV === 'production')
      throw new ConfigError([
        { variable: 'JWT_SECRET', problem: 'required in production (at least 32 bytes)' },
      ]);
    secret = DEV_SECRET;
  }
  if (e.ADMIN_EMAIL && !e.ADMIN_PASSWORD)
    throw new ConfigError([{ variable: 'ADMIN_PASSWORD', problem: 'required when ADMIN_EMAIL is set' }]);
  return {
    production: e.NODE_ENV === 'production',
    jwtSecret: secret,
    jwtSecretIsDefault: secret === DEV_SECRET,
    jwtExpiresIn: e.JWT_EXPIRES_IN,
    redisUrl: e.REDIS_URL,
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    rateLimits: {
      generalPerMin: e.RATE_LIMIT_GENERAL_PER_MIN,
      authPerMin: e.RATE_LIMIT_AUTH_PER_MIN,
      heavyPerMin: {
        free: e.RATE_LIMIT_FREE_PER_MIN,
        pro: e.RATE_LIMIT_PRO_PER_MIN,
        enterprise: e.RATE_LIMIT_ENTERPRISE_PER_MIN,
      },
    },
    admin:
      e.ADMIN_EMAIL && e.ADMIN_PASSWORD
        ? { email: e.ADMIN_EMAIL.toLowerCase(), password: e.ADMIN_PASSWORD }
        : undefined,
    bodyLimit: e.BODY_LIMIT_BYTES,
    principalCache: { max: e.PRINCIPAL_CACHE_MAX, ttlMs: e.PRINCIPAL_CACHE_TTL_MS },
    usageFlushMs: e.USAGE_FLUSH_MS,
    idempotencyLeaseMs: e.IDEMPOTENCY_LEASE_MS,
    signup: {
      verifyEmail: e.SIGNUP_VERIFY_EMAIL ? e.SIGNUP_VERIFY_EMAIL === 'true' : e.NODE_ENV === 'production',
      verifyTtlMs: e.SIGNUP_VERIFY_TTL_HOURS * 3_600_000,
    },
  };
}

/** `7d` → seconds. */
export function durationSeconds(s: string): number {
  const n = Number(s.slice(0, -1));
  const unit = s.at(-1);
  return n * (unit === 'd' ? 86_400 : unit === 'h' ? 3_600 : unit === 'm' ? 60 : 1);
}
