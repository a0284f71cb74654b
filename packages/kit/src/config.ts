import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

/** An address or CIDR as Fastify's proxy list takes it, or one of its named ranges. */
function isProxyAddress(a: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(a)) return true;
  const [ip, bits, ...rest] = a.split('/');
  const family = isIP(ip ?? '');
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** Thrown when the environment does not satisfy a service's config schema. */
export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; problem: string }[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i.variable}: ${i.problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * A configuration error from any service or package: a `ConfigError`, or an error coded
 * `INVALID_CONFIG` from a package that cannot depend on the kit (object-store), whose message
 * names the variable the same way (`VARIABLE: problem`).
 */
export function isConfigError(err: unknown): err is Error {
  return err instanceof ConfigError || (err as { code?: unknown } | null)?.code === 'INVALID_CONFIG';
}

/**
 * Parses environment variables with a zod object schema whose keys are the variable names.
 * Empty strings count as unset, so `FOO=` falls back to the default.
 */
export function parseEnv<S extends z.ZodObject>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(env)'),
      problem: issue.message,
    })),
  );
}

/** Env helpers: strings in, typed values out. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65_535).default(fallback),
  int: (fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(fallback),
  bool: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  url: () => z.url({ message: 'must be a URL' }),
  /** A JSON value checked by `schema`, e.g. per-plan overrides. */
  json: <S extends z.ZodType>(schema: S) =>
    z
      .string()
      .transform((s, ctx) => {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          ctx.addIssue({ code: 'custom', message: 'must be JSON' });
          return z.NEVER;
        }
      })
      .pipe(schema),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * Which proxies' `X-Forwarded-For` to believe for the client's address: `false` (none: the peer
   * is the client) or the proxies' addresses and CIDRs, e.g. the cluster's pod network behind an
   * ingress. Believing any sender (`true`) lets clients pick their address and dodge per-IP limits.
   */
  trustProxy: () =>
    z
      .string()
      .default('false')
      .refine(
        (v) => ['true', 'false', ''].includes(v) || v.split(',').every((a) => isProxyAddress(a.trim())),
        'must be false, true, or proxy addresses / CIDRs, comma separated (e.g. 10.0.0.0/8)',
      )
      .transform((v): boolean | string[] => {
        if (v === 'false' || v === '') return false;
        if (v === 'true') return true;
        return v.split(',').map((a) => a.trim());
      }),
};

/** Settings every service shares. */
export const CommonEnv = z.object({
  /** Postgres connection string; unset means embedded PGlite under DATA_DIR. */
  DATABASE_URL: env.url().optional(),
  /** NATS server(s), comma separated; unset means the in-process bus. */
  NATS_URL: z.string().min(1).optional(),
  /** Prefix for JetStream stream names and all subjects: isolates tenants of a shared NATS (tests, previews). */
  BUS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_]{1,32}$/, 'letters, digits and _ only')
    .optional(),
  /** Where embedded data (PGlite, objects) lives. */
  DATA_DIR: z.string().min(1).default('.data'),
  LOG_LEVEL: env.logLevel(),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  /** Pool size per service process. */
  DATABASE_POOL_MAX: env.int(10, 1, 200),
  /** This service's NATS credentials: user and password, a `.creds` file, or an nkey seed. */
  NATS_USER: z.string().min(1).optional(),
  NATS_PASSWORD: z.string().min(1).optional(),
  NATS_CREDS: z.string().min(1).optional(),
  NATS_NKEY_SEED: z
    .string()
    .regex(/^SU[A-Z2-7]{56}$/, 'must be a user nkey seed (SU…)')
    .optional(),
});
export type CommonEnv = z.infer<typeof CommonEnv>;

/** How a service authenticates to NATS; undefined: an open server (development). */
export type NatsAuth =
  | { kind: 'password'; user: string; pass: string }
  | { kind: 'creds'; creds: Uint8Array }
  | { kind: 'nkey'; seed: Uint8Array };

/** The NATS credentials `cfg` names: one kind at most, user and password together. */
export function natsAuthFromEnv(
  cfg: Pick<CommonEnv, 'NATS_USER' | 'NATS_PASSWORD' | 'NATS_CREDS' | 'NATS_NKEY_SEED'>,
): NatsAuth | undefined {
  const kinds = [cfg.NATS_USER || cfg.NATS_PASSWORD, cfg.NATS_CREDS, cfg.NATS_NKEY_SEED].filter(Boolean);
  if (kinds.length > 1)
    throw new ConfigError([
      { variable: 'NATS_CREDS', problem: 'set one of NATS_USER/NATS_PASSWORD, NATS_CREDS or NATS_NKEY_SEED' },
    ]);
  if (cfg.NATS_USER || cfg.NATS_PASSWORD) {
    if (!cfg.NATS_USER || !cfg.NATS_PASSWORD)
      throw new ConfigError([
        {
          variable: cfg.NATS_USER ? 'NATS_PASSWORD' : 'NATS_USER',
          problem: 'NATS_USER and NATS_PASSWORD go together',
        },
      ]);
    return { kind: 'password', user: cfg.NATS_USER, pass: cfg.NATS_PASSWORD };
  }
  if (cfg.NATS_CREDS) {
    try {
      return { kind: 'creds', creds: readFileSync(cfg.NATS_CREDS) };
    } catch (err) {
      throw new ConfigError([
        { variable: 'NATS_CREDS', problem: `cannot read ${cfg.NATS_CREDS}: ${(err as Error).message}` },
      ]);
    }
  }
  if (cfg.NATS_NKEY_SEED) return { kind: 'nkey', seed: new TextEncoder().encode(cfg.NATS_NKEY_SEED) };
  return undefined;
}
