import { ConfigError, env, parseEnv } from '@chartwright/kit';
import { signingConfigFromEnv } from '@chartwright/object-store';
import { z } from 'zod';

/** Svix's schedule: the waits after each failed attempt, then the delivery is failed. */
export const DEFAULT_RETRY_SCHEDULE_SECONDS = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];
/** SMTP temporary failures (4xx) are tried again after these waits. */
export const DEFAULT_EMAIL_RETRY_SECONDS = [30, 120, 600, 1800, 3600, 7200];

const seconds = (fallback: number[]) =>
  z
    .string()
    .default(fallback.join(','))
    .transform((v, ctx) => {
      const list = v.split(',').map((s) => Number(s.trim()));
      if (
        list.length === 0 ||
        list.length > 20 ||
        list.some((n) => !Number.isFinite(n) || n < 0 || n > 604_800)
      ) {
        ctx.addIssue({ code: 'custom', message: 'must be 1-20 comma-separated seconds (0-604800)' });
        return z.NEVER;
      }
      return list;
    });

const NotificationEnv = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATA_DIR: z.string().min(1).default('.data'),
  /** Comma-separated seconds between attempts (tests shorten it). */
  WEBHOOK_RETRY_SCHEDULE: seconds(DEFAULT_RETRY_SCHEDULE_SECONDS),
  /** An endpoint failing this long without one success is disabled, and its owner told. */
  WEBHOOK_DISABLE_AFTER_HOURS: z.coerce.number().positive().max(10_000).default(120),
  /** A 2xx within this is success. */
  WEBHOOK_TIMEOUT_MS: env.int(15_000, 100, 60_000),
  WEBHOOK_MAX_ENDPOINTS: env.int(20, 1, 1000),
  /** Deliveries in flight at once in this process (the rest wait in PostgreSQL). */
  WEBHOOK_CONCURRENCY: env.int(64, 1, 1000),
  /** Deliveries in flight at once to one endpoint, so a slow one cannot take every slot. */
  WEBHOOK_ENDPOINT_CONCURRENCY: env.int(4, 1, 100),
  /** How often due deliveries and mails are looked for when nothing new arrives. */
  NOTIFICATION_POLL_INTERVAL_MS: env.int(1_000, 10, 60_000),
  /** Tests and local use only: endpoints on loopback or private addresses. */
  WEBHOOKS_ALLOW_PRIVATE: env.bool(false),
  /** Tests and local use only: plain http endpoints. */
  WEBHOOKS_ALLOW_HTTP: env.bool(false),
  /** `smtp://user:pass@host:port` or `smtps://…`; unset: mails are written as .eml files under DATA_DIR/mail. */
  SMTP_URL: z.url({ protocol: /^smtps?$/, message: 'must be an smtp:// or smtps:// URL' }).optional(),
  EMAIL_FROM: z.string().min(3).max(200).default('Chartwright <no-reply@chartwright.local>'),
  EMAIL_RETRY_SCHEDULE: seconds(DEFAULT_EMAIL_RETRY_SECONDS),
});

export function loadNotificationConfig(source: Record<string, string | undefined>) {
  const e = parseEnv(NotificationEnv, source);
  const issues: { variable: string; problem: string }[] = [];
  if (e.NODE_ENV === 'production') {
    if (e.WEBHOOKS_ALLOW_PRIVATE)
      issues.push({ variable: 'WEBHOOKS_ALLOW_PRIVATE', problem: 'not allowed in production' });
    if (e.WEBHOOKS_ALLOW_HTTP)
      issues.push({ variable: 'WEBHOOKS_ALLOW_HTTP', problem: 'not allowed in production' });
  }
  if (issues.length) throw new ConfigError(issues);
  const signing = signingConfigFromEnv(source);
  return {
    production: e.NODE_ENV === 'production',
    dataDir: e.DATA_DIR,
    webhooks: {
      retryScheduleSeconds: e.WEBHOOK_RETRY_SCHEDULE,
      disableAfterMs: e.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      maxEndpoints: e.WEBHOOK_MAX_ENDPOINTS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      endpointConcurrency: e.WEBHOOK_ENDPOINT_CONCURRENCY,
      allowPrivate: e.WEBHOOKS_ALLOW_PRIVATE,
      allowHttp: e.WEBHOOKS_ALLOW_HTTP,
      /** Largest request body sent. */
      maxBodyBytes: 256 * 1024,
      /** Most of an answer read. */
      maxResponseBytes: 64 * 1024,
    },
    email: {
      smtpUrl: e.SMTP_URL,
      from: e.EMAIL_FROM,
      retryScheduleSeconds: e.EMAIL_RETRY_SCHEDULE,
    },
    pollIntervalMs: e.NOTIFICATION_POLL_INTERVAL_MS,
    /** Signs unsubscribe links (a key derived from SIGNING_SECRET). */
    signingSecret: signing.secret,
    signingSecretIsDefault: signing.secretIsDefault,
    /** The API's public address, for links in mails. */
    publicUrl: signing.publicUrl,
  };
}
export type NotificationConfig = ReturnType<typeof loadNotificationConfig>;
