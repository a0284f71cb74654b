import {
  DeliveryGet,
  DeliveryList,
  DeliveryRetry,
  PreferencesGet,
  PreferencesSet,
  type RpcDefinition,
  Unsubscribe,
  WebhookCreate,
  WebhookDelete,
  WebhookGet,
  WebhookList,
  WebhookRotateSecret,
  WebhookTest,
  WebhookUpdate,
} from '@chartwright/contracts';
import type { Logger } from '@chartwright/kit';
import { type MessageBus, type Subscription, serveRpc } from '@chartwright/kit';
import type { z } from 'zod';
import type { Deliveries } from './deliveries.js';
import type { Email } from './email.js';
import type { Webhooks } from './webhooks.js';

const QUEUE = 'notification-service';

interface UseCases {
  webhooks: Webhooks;
  deliveries: Deliveries;
  email: Email;
}

type Handler<D> =
  D extends RpcDefinition<infer Req, infer Res> ? (req: z.infer<Req>) => Promise<z.input<Res>> : never;
const route = <D extends RpcDefinition<any, any>>(def: D, handler: Handler<D>) => ({
  def: def as RpcDefinition,
  handler: handler as (req: unknown) => Promise<unknown>,
});

/** Each request/reply contract of `svc.notification.*` and the use case that answers it. */
export const handlers = ({ webhooks, deliveries, email }: UseCases) => [
  route(WebhookCreate, ({ userId, ...req }) => webhooks.create(userId, req)),
  route(WebhookList, async ({ userId }) => ({ webhooks: await webhooks.list(userId) })),
  route(WebhookGet, ({ userId, webhookId }) => webhooks.get(userId, webhookId)),
  route(WebhookUpdate, ({ userId, webhookId, ...req }) => webhooks.update(userId, webhookId, req)),
  route(WebhookDelete, async ({ userId, webhookId }) => {
    await webhooks.delete(userId, webhookId);
    return { deleted: true as const };
  }),
  route(WebhookRotateSecret, ({ userId, webhookId }) => webhooks.rotateSecret(userId, webhookId)),
  route(WebhookTest, ({ userId, webhookId }) => deliveries.test(userId, webhookId)),
  route(DeliveryList, ({ userId, webhookId, ...q }) => deliveries.list(userId, webhookId, q)),
  route(DeliveryGet, ({ userId, webhookId, deliveryId }) => deliveries.get(userId, webhookId, deliveryId)),
  route(DeliveryRetry, ({ userId, webhookId, deliveryId }) =>
    deliveries.retry(userId, webhookId, deliveryId),
  ),
  route(PreferencesGet, ({ userId }) => email.getPreferences(userId)),
  route(PreferencesSet, ({ userId, ...req }) => email.setPreferences(userId, req)),
  route(Unsubscribe, ({ token }) => email.unsubscribe(token)),
];

export function serveHandlers(bus: MessageBus, logger: Logger, uc: UseCases): Promise<Subscription[]> {
  return Promise.all(handlers(uc).map(({ def, handler }) => serveRpc(bus, def, QUEUE, logger, handler)));
}
