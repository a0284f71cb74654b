import type { Plan, Role } from '@chartwright/contracts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { hashApiKey, looksLikeApiKey } from './api-keys.js';

export interface Caller {
  id: string;
  email: string;
  role: Role;
  plan: Plan;
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

/**
 * Resolves the caller from `Authorization: Bearer <jwt>` or `X-API-Key`. The user row is read
 * on each request, so a plan change or a revoked key applies at once.
 */
export function authenticator(app: FastifyInstance, ctx: GatewayContext) {
  return async function authenticate(req: FastifyRequest): Promise<void> {
    const apiKey = req.headers['x-api-key'];
    const authorization = req.headers.authorization;
    if (typeof apiKey === 'string' && apiKey.length > 0) {
      if (!looksLikeApiKey(apiKey)) throw new ApiError('INVALID_TOKEN', 'invalid API key');
      const row = await ctx.db
        .selectFrom('api_keys')
        .innerJoin('users', 'users.id', 'api_keys.user_id')
        .select([
          'users.id',
          'users.email',
          'users.role',
          'users.plan',
          'api_keys.id as key_id',
          'api_keys.last_used_at',
        ])
        .where('api_keys.key_hash', '=', hashApiKey(apiKey))
        .where('api_keys.revoked_at', 'is', null)
        .executeTakeFirst();
      if (!row) throw new ApiError('INVALID_TOKEN', 'invalid API key');
      if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
        void ctx.db
          .updateTable('api_keys')
          .set({ last_used_at: new Date() })
          .where('id', '=', row.key_id)
          .execute()
          .catch((err) => req.log.warn({ err }, 'could not record API key use'));
      }
      req.caller = { id: row.id, email: row.email, role: row.role, plan: row.plan, via: 'api-key' };
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
      throw new ApiError('INVALID_TOKEN', code.includes('EXPIRED') ? 'token expired' : 'invalid token');
    }
    if (typeof payload.sub !== 'string' || !/^[0-9a-f-]{36}$/i.test(payload.sub)) {
      throw new ApiError('INVALID_TOKEN', 'invalid token');
    }
    const user = await ctx.db
      .selectFrom('users')
      .select(['id', 'email', 'role', 'plan'])
      .where('id', '=', payload.sub)
      .executeTakeFirst();
    if (!user) throw new ApiError('INVALID_TOKEN', 'invalid token');
    req.caller = { ...user, via: 'jwt' };
  };
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
