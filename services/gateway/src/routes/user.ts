import {
  QuotaGet,
  QuotaResponse,
  type QuotaSnapshot,
  QuotaUsage,
  successResponse,
  UsageQuery,
  UsageResponse,
  User,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import type { UserTable } from '../db/schema.js';
import { ApiError } from '../errors.js';

export const toUserDto = (
  u: Pick<UserTable, 'id' | 'email' | 'name' | 'plan' | 'role'> & { created_at: Date },
): User => ({
  id: u.id,
  email: u.email,
  name: u.name,
  plan: u.plan,
  role: u.role,
  createdAt: u.created_at.toISOString(),
});

const counter = (c: { used: number; limit: number | null }) => ({
  used: c.used,
  limit: c.limit,
  remaining: c.limit === null ? null : Math.max(0, c.limit - c.used),
});

/** The design document's quota shape from quota-service's snapshot. */
export const toQuotaResponse = (q: QuotaSnapshot): QuotaResponse => ({
  quota: { charts: counter(q.charts), analyses: counter(q.analyses), resetAt: q.resetAt },
  plan: q.plan,
});

export async function userRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    '/v1/user',
    {
      schema: {
        tags: ['user'],
        operationId: 'getUser',
        summary: 'The caller',
        response: { 200: successResponse(z.object({ user: User })) },
      },
    },
    async (req) => {
      // The caller as authentication resolved it (cached): no database read.
      const c = requireCaller(req);
      const user = {
        id: c.id,
        email: c.email,
        name: c.name,
        plan: c.plan,
        role: c.role,
        created_at: c.createdAt,
      };
      return { success: true as const, data: { user: toUserDto(user) } };
    },
  );

  r.get(
    '/v1/user/quota',
    {
      schema: {
        tags: ['user'],
        operationId: 'getQuota',
        summary: "This month's usage and limits",
        response: { 200: successResponse(QuotaResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const q = await callRpc(ctx.bus, QuotaGet, { userId: caller.id });
      return { success: true as const, data: toQuotaResponse(q) };
    },
  );

  r.get(
    '/v1/user/usage',
    {
      schema: {
        tags: ['user'],
        operationId: 'getUsage',
        summary: 'Daily request counts (UTC); default the last 30 days',
        querystring: UsageQuery,
        response: { 200: successResponse(UsageResponse) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const today = new Date().toISOString().slice(0, 10);
      const to = req.query.to ?? today;
      const from = req.query.from ?? new Date(Date.parse(to) - 29 * 86_400_000).toISOString().slice(0, 10);
      if (from > to)
        throw new ApiError('VALIDATION_ERROR', '`from` must not be after `to`', [
          { field: 'from', in: 'querystring', message: 'after to' },
        ]);
      const usage = await callRpc(ctx.bus, QuotaUsage, { userId: caller.id, from, to });
      return { success: true as const, data: usage };
    },
  );
}
