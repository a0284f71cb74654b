import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { EmailTopic } from '@chartwright/contracts';
import { Webhook as StandardWebhook } from 'standardwebhooks';

/** A new endpoint secret in the Standard Webhooks form: `whsec_` + base64 of 32 random bytes. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The Standard Webhooks headers of one attempt. During a rotation's overlap the signature header
 * carries both signatures, space separated, so a receiver holding either secret verifies it.
 */
export function webhookHeaders(
  msgId: string,
  at: Date,
  body: string,
  secrets: readonly string[],
): Record<string, string> {
  return {
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((s) => new StandardWebhook(s).sign(msgId, at, body)).join(' '),
  };
}

const TOPICS: readonly EmailTopic[] = [
  'analysisCompleted',
  'analysisFailed',
  'quotaWarnings',
  'webhookDisabled',
];

/**
 * Signed unsubscribe tokens: `<base64url(userId:topic)>.<base64url(HMAC)>`, under a key derived
 * from SIGNING_SECRET for this one purpose (a token can never pass for a signed file link).
 */
export class UnsubscribeTokens {
  private readonly key: Buffer;
  constructor(signingSecret: string) {
    this.key = createHmac('sha256', signingSecret).update('chartwright:unsubscribe:v1').digest();
  }

  issue(userId: string, topic: EmailTopic): string {
    const payload = Buffer.from(`${userId}:${topic}`).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  /** The user and topic a genuine token names, else undefined. */
  verify(token: string): { userId: string; topic: EmailTopic } | undefined {
    const [payload, sig, ...rest] = token.split('.');
    if (!payload || !sig || rest.length) return undefined;
    const given = Buffer.from(sig, 'base64url');
    const expected = this.mac(payload);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const [userId, topic] = Buffer.from(payload, 'base64url').toString().split(':');
    if (!userId || !TOPICS.includes(topic as EmailTopic)) return undefined;
    return { userId, topic: topic as EmailTopic };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest();
  }
}
