import {
  AnalysisCompleted,
  AnalysisFailed,
  ChartGenerated,
  QuotaThresholdReached,
  type StreamName,
  UserRegistered,
  UserSignupAttempted,
  UserVerificationRequested,
} from '@chartwright/contracts';
import type { Logger } from '@chartwright/kit';
import {
  type ConsumerGroup,
  consumeEvents,
  type EventRoute,
  type MessageBus,
  on,
  type Subscription,
} from '@chartwright/kit';
import type { AppContext } from './context.js';
import type { Deliveries } from './deliveries.js';
import type { Email } from './email.js';
import {
  analysisCompletedMail,
  analysisFailedMail,
  quotaWarningMail,
  signupAttemptedMail,
  verificationMail,
} from './messages.js';
import { webhookData } from './payloads.js';

interface UseCases {
  ctx: AppContext;
  deliveries: Deliveries;
  email: Email;
}

/** One durable consumer; quick handlers (two statements each): several at once keep up with bursts. */
const group = (
  stream: StreamName,
  durable: string,
  filterSubject: string,
  routes: EventRoute[],
): ConsumerGroup => ({
  // Quick handlers whose statements are shared (batched): many at once make the batches.
  spec: { stream, durable, filterSubject, concurrency: 128, backoffMs: [1_000, 5_000, 15_000, 60_000] },
  routes,
});

/**
 * The events notification-service reacts to. Each webhook fan-out is one statement keyed by
 * (endpoint, event id) and each mail is keyed by event id and kind, so redeliveries add nothing.
 */
export const consumers = ({ ctx, deliveries, email }: UseCases): ConsumerGroup[] => [
  group('USERS', 'notification-users', 'user.registered', [
    on(UserRegistered, (e) => email.recordRecipient(e.data.userId, e.data.email, e.data.name)),
  ]),
  // Account mail, apart from the recipients consumer (NATS 2.9 has one filter per consumer).
  group('USERS', 'notification-account', 'user.>', [
    on(UserVerificationRequested, async (e) => {
      await email.queueAccountMail(
        e.data.userId,
        e.data.email,
        `${e.id}:user.verification_requested`,
        verificationMail(e, email.verifyUrl(e.data.token)),
      );
    }),
    on(UserSignupAttempted, async (e) => {
      await email.queueAccountMail(
        e.data.userId,
        e.data.email,
        `${e.id}:user.signup_attempted`,
        signupAttemptedMail(e, email.loginUrl()),
      );
    }),
  ]),
  group('ANALYSES', 'notification-analyses', 'analysis.>', [
    on(AnalysisCompleted, async (e) => {
      await Promise.all([
        deliveries.fanOut(e, e.data.userId, webhookData['analysis.completed'](e)),
        email.queue(ctx.db, e.data.userId, 'analysisCompleted', `${e.id}:analysis.completed`, (url) =>
          analysisCompletedMail(e, url),
        ),
      ]);
    }),
    on(AnalysisFailed, async (e) => {
      await deliveries.fanOut(e, e.data.userId, webhookData['analysis.failed'](e));
      await email.queue(ctx.db, e.data.userId, 'analysisFailed', `${e.id}:analysis.failed`, (url) =>
        analysisFailedMail(e, url),
      );
    }),
  ]),
  group('CHARTS', 'notification-charts', 'chart.generated', [
    on(ChartGenerated, async (e) => {
      await deliveries.fanOut(e, e.data.userId, webhookData['chart.generated'](e));
    }),
  ]),
  group('QUOTA', 'notification-quota', 'quota.>', [
    on(QuotaThresholdReached, async (e) => {
      await deliveries.fanOut(e, e.data.userId, webhookData['quota.threshold_reached'](e));
      await email.queue(ctx.db, e.data.userId, 'quotaWarnings', `${e.id}:quota.threshold_reached`, (url) =>
        quotaWarningMail(e, url),
      );
    }),
  ]),
];

/** Starts the consumers of `consumers`. */
export function subscribe(bus: MessageBus, logger: Logger, uc: UseCases): Promise<Subscription[]> {
  return Promise.all(consumers(uc).map((c) => consumeEvents(bus, c.spec, c.routes, logger)));
}
