import {
  DeliveryGet,
  DeliveryList,
  DeliveryRetry,
  PreferencesGet,
  PreferencesSet,
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
import { handle, type MessageBus, type RpcRoute, type Subscription } from '@chartwright/kit';
import type { Deliveries } from './deliveries.js';
import type { Email } from './email.js';
import type { Webhooks } from './webhooks.js';

const QUEUE = 'notification-service';

interface UseCases {
  webhooks: Webhooks;
  deliveries: Deliveries;
  email: Email;
}

/** Each request/reply contract of `svc.notification.*` and the use case that answers it. */
export const handlers = ({ webhooks, deliveries, email }: UseCases): RpcRoute[] => [
  handle(WebhookCreate, ({ userId, ...req }) => webhooks.create(userId, req)),
  handle(WebhookList, async ({ userId }) => ({ webhooks: await webhooks.list(userId) })),
  handle(WebhookGet, ({ userId, webhookId }) => webhooks.get(userId, webhookId)),
  handle(WebhookUpdate, ({ userId, webhookId, ...req }) => webhooks.update(userId, webhookId, req)),
  handle(WebhookDelete, async ({ userId, webhookId }) => {
    await webhooks.delete(userId, webhookId);
    return { deleted: true as const };
  }),
  handle(WebhookRotateSecret, ({ userId, webhookId }) => webhooks.rotateSecret(userId, webhookId)),
  handle(WebhookTest, ({ userId, webhookId }) => deliveries.test(userId, webhookId)),
  handle(DeliveryList, ({ userId, webhookId, ...q }) => deliveries.list(userId, webhookId, q)),
  handle(DeliveryGet, ({ userId, webhookId, deliveryId }) => deliveries.get(userId, webhookId, deliveryId)),
  handle(DeliveryRetry, ({ userId, webhookId, deliveryId }) =>
    deliveries.retry(userId, webhookId, deliveryId),
  ),
  handle(PreferencesGet, ({ userId }) => email.getPreferences(userId)),
  handle(PreferencesSet, ({ userId, ...req }) => email.setPreferences(userId, req)),
  handle(Unsubscribe, ({ token }) => email.unsubscribe(token)),
];

export function serveHandlers(bus: MessageBus, logger: Logger, uc: UseCases): Promise<Subscription[]> {
  return Promise.all(handlers(uc).map((h) => h.serve(bus, QUEUE, logger)));
}
