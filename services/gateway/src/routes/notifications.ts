import {
  NotificationPreferences,
  PreferencesGet,
  PreferencesSet,
  successResponse,
  Unsubscribe,
  UnsubscribeQuery,
  UnsubscribeResponse,
  UpdateNotificationPreferences,
} from '@chartwright/contracts';
import { callRpc } from '@chartwright/kit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { requireCaller } from '../auth/authenticate.js';
import type { GatewayContext } from '../context.js';

const TIMEOUT_MS = 10_000;
const tags = ['notifications'];

/** The caller's mail preferences (kept by notification-service). */
export async function notificationRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.get(
    '/v1/user/notifications',
    {
      schema: {
        tags,
        operationId: 'getNotificationSettings',
        summary: 'Which mails the caller gets',
        description: 'Defaults: quota warnings and webhook-disabled alerts on, analysis mails off.',
        response: { 200: successResponse(NotificationPreferences) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      return {
        success: true as const,
        data: await callRpc(ctx.bus, PreferencesGet, { userId: caller.id }, { timeoutMs: TIMEOUT_MS }),
      };
    },
  );

  r.put(
    '/v1/user/notifications',
    {
      schema: {
        tags,
        operationId: 'updateNotificationSettings',
        summary: 'Change mail preferences (settings not named keep their values)',
        body: UpdateNotificationPreferences,
        response: { 200: successResponse(NotificationPreferences) },
      },
    },
    async (req) => {
      const caller = requireCaller(req);
      const data = await callRpc(
        ctx.bus,
        PreferencesSet,
        { userId: caller.id, ...req.body },
        { timeoutMs: TIMEOUT_MS },
      );
      return { success: true as const, data };
    },
  );
}

/** The signed unsubscribe link of every mail: works without login (GET, and RFC 8058 one-click POST). */
export async function unsubscribeRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const schema = {
    tags,
    summary: 'Turn off the mails a signed link names (no login)',
    security: [],
    querystring: UnsubscribeQuery,
    response: { 200: successResponse(UnsubscribeResponse) },
  };
  const handler = async (req: { query: { token: string } }) => ({
    success: true as const,
    data: await callRpc(ctx.bus, Unsubscribe, { token: req.query.token }, { timeoutMs: TIMEOUT_MS }),
  });
  r.get(
    '/v1/notifications/unsubscribe',
    { schema: { ...schema, operationId: 'unsubscribeViaLink' } },
    handler,
  );
  r.post('/v1/notifications/unsubscribe', { schema: { ...schema, operationId: 'unsubscribe' } }, handler);
}
