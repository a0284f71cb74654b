import { ChangePlanRequest, type EventEnvelope, successResponse, User } from '@chartwright/contracts';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { forgetCallers, requireAdmin } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';
import { ApiError } from '../errors.js';
import { toUserDto } from './user.js';

export async function adminRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.patch(
    '/v1/admin/users/:id/plan',
    {
      schema: {
        tags: ['admin'],
        operationId: 'setUserPlan',
        errors: ['FORBIDDEN'],
        summary: "Change a user's plan (admin only)",
        params: z.object({ id: z.uuid() }),
        body: ChangePlanRequest,
        response: { 200: successResponse(z.object({ user: User })) },
      },
    },
    async (req) => {
      const admin = requireAdmin(req);
      const { plan } = req.body;
      const events: EventEnvelope[] = [];
      const user = await ctx.db.transaction().execute(async (trx) => {
        const before = await trx
          .selectFrom('users')
          .select('plan')
          .where('id', '=', req.params.id)
          .forUpdate()
          .executeTakeFirst();
        if (!before) throw new ApiError('NOT_FOUND', 'user not found');
        const row = await trx
          .updateTable('users')
          .set({ plan, updated_at: new Date() })
          .where('id', '=', req.params.id)
          .returningAll()
          .executeTakeFirstOrThrow();
        if (before.plan !== plan) {
          const event = ctx.events.planChanged({
            userId: row.id,
            previousPlan: before.plan,
            plan,
            changedBy: admin.id,
          });
          await ctx.events.store(trx, event);
          events.push(event);
        }
        return row;
      });
      // quota-service applies the new limits on this event (one mechanism: no call besides).
      ctx.events.send(events);
      // The cached callers see the new plan at once, here and (epoch, event) on every replica.
      await forgetCallers(ctx, { userId: user.id });
      return { success: true as const, data: { user: toUserDto(user) } };
    },
  );
}
