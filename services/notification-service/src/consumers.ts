import {
  AnalysisCompleted,
  AnalysisFailed,
  ChartGenerated,
  type EventDefinition,
  type EventOf,
  QuotaThresholdReached,
  type StreamName,
  UserRegistered,
} from '@chartwright/contracts';
import type { Logger } from '@chartwright/kit';
import { consumeEvents, type MessageBus, type Subscription } from '@chartwright/kit';
import type { AppContext } from './context.js';
import type { Deliveries } from './deliveries.js';
import type { Email } from './email.js';
import { analysisCompletedMail, analysisFailedMail, quotaWarningMail } from './messages.js';
import { webhookData } from './payloads.js';

interface UseCases {
  ctx: AppContext;
  deliveries: Deliveries;
  email: Email;
}

/** A handler typed by its contract: it gets that event's payload type. */
const on = <D extends EventDefinition>(def: D, handle: (e: EventOf<D>) => Promise<void>) => ({
  [def.type]: handle as (e: unknown) => Promise<void>,
});

const consume = (
  bus: MessageBus,
  logger: Logger,
  stream: StreamName,
  durable: string,
  filterSubject: string,
  handlers: Record<string, (e: any) => Promise<void>>,
) =>
  consumeEvents(
    bus,
    // Quick handlers whose statements are shared (batched): many at once make the batches.
    { stream, durable, filterSubject, concurrency: 128, backoffMs: [1_000, 5_000, 15_000, 60_000] },
    handlers,
    logger,
  );

/**
 * The events notification-service reacts to. Each webhook fan-out is one statement keyed by
 * (endpoint, event id) and each mail is keyed by event id and kind, so redeliveries add nothing.
 */
export async function subscribe(
  bus: MessageBus,
  logger: Logger,
  { ctx, deliveries, email }: UseCases,
): Promise<Subscription[]> {
  return Promise.all([
    consume(bus, logger, 'USERS', 'notification-users', 'user.registered', {
      ...on(UserRegistered, (e) => email.recordRecipient(e.data.userId, e.data.email, e.data.name)),
    }),
    consume(bus, logger, 'ANALYSES', 'notification-analyses', 'analysis.>', {
      ...on(AnalysisCompleted, async (e) => {
        await Promise.all([
          deliveries.fanOut(e, e.data.userId, webhookData['analysis.completed'](e)),
          email.queue(ctx.db, e.data.userId, 'analysisCompleted', `${e.id}:analysis.completed`, (url) =>
            analysisCompletedMail(e, url),
          ),
        ]);
      }),
      ...on(AnalysisFailed, async (e) => {
        await deliveries.fanOut(e, e.data.userId, webhookData['analysis.failed'](e));
        await email.queue(ctx.db, e.data.userId, 'analysisFailed', `${e.id}:analysis.failed`, (url) =>
          analysisFailedMail(e, url),
        );
      }),
    }),
    consume(bus, logger, 'CHARTS', 'notification-charts', 'chart.generated', {
      ...on(ChartGenerated, async (e) => {
        await deliveries.fanOut(e, e.data.userId, webhookData['chart.generated'](e));
      }),
    }),
    consume(bus, logger, 'QUOTA', 'notification-quota', 'quota.>', {
      ...on(QuotaThresholdReached, async (e) => {
        await deliveries.fanOut(e, e.data.userId, webhookData['quota.threshold_reached'](e));
        await email.queue(ctx.db, e.data.userId, 'quotaWarnings', `${e.id}:quota.threshold_reached`, (url) =>
          quotaWarningMail(e, url),
        );
      }),
    }),
  ]);
}
