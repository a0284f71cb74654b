import type { Plan, Role } from '@chartwright/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { hashApiKey, looksLikeApiKey } from './api-keys.js';
import { type Principal, PrincipalCache } from './principals.js';

export interface Caller extends Principal {
  via: 'jwt' | 'api-key';
}

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: { sub: string; role: Role };
    user: { sub: string; role: Role };
  }
}

// Writing last_used_at on every request would make each call a write; once a minute is enough.
const LAST_USED_RESOLUTION_MS = 60_000;

const USER_COLUMNS = [
  'users.id',
  'users.email',
  'users.name',
  'users.role',
  'users.plan',
  'users.created_at',
] as const;

const toPrincipal = (u: {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  plan: Plan;
  created_at: Date;
}): Principal => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  plan: u.plan,
  createdAt: u.created_at,
});

/**
 * Resolves the caller from `Authorization: Bearer <jwt>` or `X-API-Key`, from the process's
 * principal cache when it can (see `PrincipalCache` for how a change reaches it at once), else
 * from the database. `fresh` skips the cache (a revocation was just seen).
 */
export function authenticator(app: FastifyInstance, ctx: GatewayContext) {
  const cache = ctx.principals;
  return async function authenticate(req: FastifyRequest): Promise<void> {
    const apiKey = req.headers['x-api-key'];
    const authorization = req.headers.authorization;
    if (typeof apiKey === 'string' && apiKey.length > 0) {
      if (!looksLikeApiKey(apiKey)) throw new ApiError('INVALID_TOKEN', 'invalid API key');
      const cacheKey = PrincipalCache.apiKey(hashApiKey(apiKey));
      let entry = cache.get(cacheKey);
      if (!entry) {
        const generation = cache.generation;
        const row = await ctx.db
          .selectFrom('api_keys')
          .innerJoin('users', 'users.id', 'api_keys.user_id')
          .select([...USER_COLUMNS, 'api_keys.id as key_id', 'api_keys.last_used_at'])
          .where('api_keys.key_hash', '=', hashApiKey(apiKey))
          .where('api_keys.revoked_at', 'is', null)
          .executeTakeFirst();
        if (!row) throw new ApiError('INVALID_TOKEN', 'invalid API key');
        entry = { principal: toPrincipal(row), keyId: row.key_id, lastUsedAt: row.last_used_at?.getTime() };
        cache.set(cacheKey, entry, generation);
      }
      const now = Date.now();
      if (!entry.lastUsedAt || now - entry.lastUsedAt > LAST_USED_RESOLUTION_MS) {
        entry.lastUsedAt = now;
        void ctx.db
          .updateTable('api_keys')
          .set({ last_used_at: new Date(now) })
          .where('id', '=', entry.keyId!)
          .execute()
          .catch((err) => req.log.warn({ err }, 'could not record API key use'));
      }
      req.caller = { ...entry.principal, via: 'api-key' };
      return;
    }
    if (!authorization)
      throw new ApiError('UNAUTHORIZED', 'authentication required: a Bearer token or an X-API-Key');
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) throw new ApiError('INVALID_TOKEN', 'Authorization must be "Bearer <token>"');
    let payload: { sub: string };
    try {
      payload = app.jwt.verify<{ sub: string; role: Role }>(match[1]!);
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      throw new ApiError(
        'INVALID_TOKEN',
        code.includes('EXPIRED')
          ? 'token expired'
          : code.includes('MISSING_REQUIRED_CLAIM')
            ? 'invalid token: it has no expiry (exp)'
            : 'invalid token',
      );
    }
    if (typeof payload.sub !== 'string' || !/^[0-9a-f-]{36}$/i.test(payload.sub)) {
      throw new ApiError('INVALID_TOKEN', 'invalid token');
    }
    const cacheKey = PrincipalCache.userKey(payload.sub);
    let entry = cache.get(cacheKey);
    if (!entry) {
      const generation = cache.generation;
      const user = await ctx.db
        .selectFrom('users')
        .select(USER_COLUMNS)
        .where('id', '=', payload.sub)
        .executeTakeFirst();
      if (!user) throw new ApiError('INVALID_TOKEN', 'invalid token');
      entry = { principal: toPrincipal(user) };
      cache.set(cacheKey, entry, generation);
    }
    req.caller = { ...entry.principal, via: 'jwt' };
  };
}

/**
 * After a revocation or a plan change is committed, before answering: this replica forgets the
 * callers it affects, and the shared epoch moves so every other replica forgets its cached
 * callers on its next request (the events `consumers.ts` watches cover setups without Redis).
 */
export async function forgetCallers(ctx: GatewayContext, what: { userId: string } | { keyId: string }) {
  if ('keyId' in what) ctx.principals.dropKey(what.keyId);
  else ctx.principals.dropUser(what.userId);
  const epoch = await ctx.limiter.bumpEpoch();
  if (epoch !== undefined) ctx.principals.advance(epoch);
}

export function requireCaller(req: FastifyRequest): Caller {
  if (!req.caller) throw new ApiError('UNAUTHORIZED', 'authentication required');
  return req.caller;
}

/**
 * A caller signed in with a password (a Bearer token): API keys are managed this way only, so a
 * leaked key cannot mint others that outlive its revocation.
 */
export function requireLogin(req: FastifyRequest): Caller {
  const caller = requireCaller(req);
  if (caller.via !== 'jwt')
    throw new ApiError('FORBIDDEN', 'API keys are managed with a login token (Bearer), not with an API key');
  return caller;
}

export function requireAdmin(req: FastifyRequest): Caller {
  const caller = requireCaller(req);
  if (caller.role !== 'admin') throw new ApiError('FORBIDDEN', 'admin only');
  return caller;
}
