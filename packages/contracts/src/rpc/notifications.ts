import { z } from 'zod';
import {
  CreatedWebhook,
  CreateWebhookRequest,
  DeliveryListQuery,
  DeliveryListResponse,
  NotificationPreferences,
  RotatedSecret,
  UnsubscribeResponse,
  UpdateNotificationPreferences,
  UpdateWebhookRequest,
  Webhook,
  WebhookDelivery,
  WebhookDeliveryDetail,
} from '../rest/notifications.js';
import { defineRpc } from './index.js';

// notification-service: webhook endpoints, their deliveries, and mail preferences. Every call
// names the user it acts for; another user's endpoint or delivery is NOT_FOUND.

const Caller = z.object({ userId: z.uuid() });
const OneWebhook = Caller.extend({ webhookId: z.uuid() });
const OneDelivery = OneWebhook.extend({ deliveryId: z.uuid() });

export const WebhookCreate = defineRpc(
  'svc.notification.webhook_create',
  Caller.extend(CreateWebhookRequest.shape),
  CreatedWebhook,
);
export const WebhookList = defineRpc(
  'svc.notification.webhook_list',
  Caller,
  z.object({ webhooks: z.array(Webhook) }),
);
export const WebhookGet = defineRpc('svc.notification.webhook_get', OneWebhook, Webhook);
export const WebhookUpdate = defineRpc(
  'svc.notification.webhook_update',
  OneWebhook.extend(UpdateWebhookRequest.shape),
  Webhook,
);
export const WebhookDelete = defineRpc(
  'svc.notification.webhook_delete',
  OneWebhook,
  z.object({ deleted: z.literal(true) }),
);
export const WebhookRotateSecret = defineRpc('svc.notification.webhook_rotate', OneWebhook, RotatedSecret);
/** Sends a `webhook.test` event now; answers its delivery after the first attempt. */
export const WebhookTest = defineRpc('svc.notification.webhook_test', OneWebhook, WebhookDelivery);
export const DeliveryList = defineRpc(
  'svc.notification.delivery_list',
  OneWebhook.extend(DeliveryListQuery.shape),
  DeliveryListResponse,
);
export const DeliveryGet = defineRpc('svc.notification.delivery_get', OneDelivery, WebhookDeliveryDetail);
/** Attempts the delivery again now (whatever its status); answers it after that attempt. */
export const DeliveryRetry = defineRpc('svc.notification.delivery_retry', OneDelivery, WebhookDelivery);

export const PreferencesGet = defineRpc('svc.notification.preferences_get', Caller, NotificationPreferences);
export const PreferencesSet = defineRpc(
  'svc.notification.preferences_set',
  Caller.extend(UpdateNotificationPreferences.shape),
  NotificationPreferences,
);
/** A signed unsubscribe link's token: no caller, the token names the user and the setting. */
export const Unsubscribe = defineRpc(
  'svc.notification.unsubscribe',
  z.object({ token: z.string().min(1).max(1000) }),
  UnsubscribeResponse,
);
