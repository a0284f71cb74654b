import { lazy, meter } from '@chartwright/kit';

/**
 * Webhook delivery attempts by outcome: `succeeded` (a 2xx), `rejected` (the endpoint answered
 * otherwise), `error` (no answer: refused address, timeout, connection failure).
 */
export const webhookDeliveries = lazy(() => {
  const counter = meter().createCounter('chartwright.webhook.deliveries', {
    description: 'Webhook delivery attempts, by outcome',
  });
  // Every outcome reported from the start, so rates and alerts have a series before the first.
  for (const outcome of ['succeeded', 'rejected', 'error']) counter.add(0, { outcome });
  return counter;
});

export const webhookDuration = lazy(() =>
  meter().createHistogram('chartwright.webhook.delivery.duration', {
    unit: 's',
    description: 'Time of one webhook delivery attempt, by outcome',
  }),
);
