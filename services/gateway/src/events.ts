import { type DataOf, UsageRecorded, UserPlanChanged, UserRegistered } from '@chartwright/contracts';
import { type MessageBus, makeEvent, type OutboxRelay, publishEvent, ServiceEvents } from '@chartwright/kit';
import type { z } from 'zod';

export const SERVICE = 'gateway';

/** The one place the gateway builds its events; storing and sending come from `ServiceEvents`. */
export class GatewayEvents extends ServiceEvents {
  constructor(
    relay: OutboxRelay,
    private readonly bus: MessageBus,
  ) {
    super(relay);
  }

  userRegistered(data: DataOf<typeof UserRegistered>) {
    return makeEvent(UserRegistered, data, { source: SERVICE, subject: data.userId });
  }

  planChanged(data: DataOf<typeof UserPlanChanged>) {
    return makeEvent(UserPlanChanged, data, { source: SERVICE, subject: data.userId });
  }

  /** `usage.recorded`, sent at once without the outbox: a metric, with no state change behind it. */
  usageRecorded(data: z.input<typeof UsageRecorded.data>): Promise<void> {
    return publishEvent(this.bus, makeEvent(UsageRecorded, data, { source: SERVICE, subject: data.userId }));
  }
}
