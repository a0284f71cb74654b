import { z } from 'zod';
import { Pagination } from './common.js';

/** Event types a webhook endpoint may subscribe to; `*` is all of them (and later ones). */
export const WEBHOOK_EVENT_TYPES = [
  'analysis.completed',
  'analysis.failed',
  'analysis.outcome_resolved',
  'chart.generated',
  'quota.threshold_reached',
] as const;
export const WebhookEventType = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** `["*"]`, or a non-empty list of event types without repeats. */
export const WebhookEvents = z.union([
  z.tuple([z.literal('*')]),
  z
    .array(WebhookEventType, { message: `must be ["*"] or a list of: ${WEBHOOK_EVENT_TYPES.join(', ')}` })
    .min(1, 'must name at least one event type')
    .max(WEBHOOK_EVENT_TYPES.length)
    .refine((l) => new Set(l).size === l.length, 'must not repeat an event type'),
]);
export type WebhookEvents = z.infer<typeof WebhookEvents>;

export const WebhookUrl = z
  .string()
  .trim()
  .max(2048, 'must be at most 2048 characters')
  .pipe(z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }));

const Description = z.string().trim().max(500).nullable();

/** Body of `POST /v1/webhooks`. */
export const CreateWebhookRequest = z.strictObject({
  url: WebhookUrl,
  events: WebhookEvents,
  description: Description.optional(),
});
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;

/** Body of `PATCH /v1/webhooks/:id`. */
export const UpdateWebhookRequest = z.strictObject({
  url: WebhookUrl.optional(),
  events: WebhookEvents.optional(),
  enabled: z.boolean().optional(),
  description: Description.optional(),
});
export type UpdateWebhookRequest = z.infer<typeof UpdateWebhookRequest>;

/** An endpoint as listed: never its secret. */
export const Webhook = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.string()),
  description: z.string().nullable(),
  enabled: z.boolean(),
  /** Why it was disabled, when the service did it (e.g. failing for too long). */
  disabledReason: z.string().nullable(),
  createdAt: z.iso.datetime({ offset: true }),
});
export type Webhook = z.infer<typeof Webhook>;

/** Answered once, at creation: `secret` (Standard Webhooks `whsec_…`) is never shown again. */
export const CreatedWebhook = Webhook.extend({ secret: z.string() });
export type CreatedWebhook = z.infer<typeof CreatedWebhook>;

/** `POST /v1/webhooks/:id/rotate-secret`: deliveries carry both signatures until `previousSecretExpiresAt`. */
export const RotatedSecret = z.object({
  secret: z.string(),
  previousSecretExpiresAt: z.iso.datetime({ offset: true }),
});
export type RotatedSecret = z.infer<typeof RotatedSecret>;

export const DeliveryStatus = z.enum(['pending', 'succeeded', 'failed']);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

export const WebhookDelivery = z.object({
  id: z.uuid(),
  eventType: z.string(),
  eventId: z.string(),
  status: DeliveryStatus,
  attempts: z.number().int().nonnegative(),
  lastStatusCode: z.number().int().nullable(),
  lastError: z.string().nullable(),
  nextAttemptAt: z.iso.datetime({ offset: true }).nullable(),
  createdAt: z.iso.datetime({ offset: true }),
  succeededAt: z.iso.datetime({ offset: true }).nullable(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

export const DeliveryAttempt = z.object({
  at: z.iso.datetime({ offset: true }),
  statusCode: z.number().int().nullable(),
  durationMs: z.number().int().nonnegative(),
  error: z.string().nullable(),
  /** The first 1 KB of the answer. */
  responseBody: z.string().nullable(),
});
export type DeliveryAttempt = z.infer<typeof DeliveryAttempt>;

export const WebhookDeliveryDetail = WebhookDelivery.extend({ attemptsLog: z.array(DeliveryAttempt) });
export type WebhookDeliveryDetail = z.infer<typeof WebhookDeliveryDetail>;

export const DeliveryListQuery = z.object({
  status: DeliveryStatus.optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
export type DeliveryListQuery = z.infer<typeof DeliveryListQuery>;

export const DeliveryListResponse = z.object({
  deliveries: z.array(WebhookDelivery),
  pagination: Pagination,
});
export type DeliveryListResponse = z.infer<typeof DeliveryListResponse>;

/** Which mails a user gets. */
export const EmailPreferences = z.object({
  analysisCompleted: z.boolean(),
  analysisFailed: z.boolean(),
  quotaWarnings: z.boolean(),
  webhookDisabled: z.boolean(),
});
export type EmailPreferences = z.infer<typeof EmailPreferences>;
export type EmailTopic = keyof EmailPreferences;

export const DEFAULT_EMAIL_PREFERENCES: EmailPreferences = {
  analysisCompleted: false,
  analysisFailed: false,
  quotaWarnings: true,
  webhookDisabled: true,
};

export const NotificationPreferences = z.object({ email: EmailPreferences });
export type NotificationPreferences = z.infer<typeof NotificationPreferences>;

/** Body of `PUT /v1/user/notifications`: the settings named change, the others stay. */
export const UpdateNotificationPreferences = z.strictObject({
  email: z.strictObject({
    analysisCompleted: z.boolean().optional(),
    analysisFailed: z.boolean().optional(),
    quotaWarnings: z.boolean().optional(),
    webhookDisabled: z.boolean().optional(),
  }),
});
export type UpdateNotificationPreferences = z.infer<typeof UpdateNotificationPreferences>;

export const UnsubscribeQuery = z.object({ token: z.string().min(1).max(1000) });

export const UnsubscribeResponse = z.object({
  /** The setting turned off. */
  unsubscribed: z.enum(['analysisCompleted', 'analysisFailed', 'quotaWarnings', 'webhookDisabled']),
  email: EmailPreferences,
});
export type UnsubscribeResponse = z.infer<typeof UnsubscribeResponse>;
