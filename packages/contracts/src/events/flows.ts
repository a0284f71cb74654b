import type { ServiceName } from '../rpc/senders.js';

/**
 * Who publishes each event and which services consume it (their durable consumers). A service
 * publishes only its own events (`infra/nats.conf` allows nothing else; a test checks this table
 * against it). `usage.recorded` has no producer any more: gateways send `usage.batch_recorded`,
 * and quota-service still reads the older event from a stream that may hold it.
 */
export const EVENT_FLOWS: Readonly<
  Record<string, { sender: ServiceName | null; receivers: readonly ServiceName[] }>
> = {
  'user.registered': { sender: 'gateway', receivers: ['quota-service', 'notification-service'] },
  'user.verification_requested': { sender: 'gateway', receivers: ['notification-service'] },
  'user.signup_attempted': { sender: 'gateway', receivers: ['notification-service'] },
  'user.plan_changed': { sender: 'gateway', receivers: ['gateway', 'quota-service'] },
  'user.api_key_revoked': { sender: 'gateway', receivers: ['gateway'] },
  'chart.generated': {
    sender: 'chart-service',
    receivers: ['storage-service', 'quota-service', 'analysis-service', 'notification-service'],
  },
  'chart.stored': { sender: 'storage-service', receivers: ['chart-service', 'analysis-service'] },
  'chart.deleted': {
    sender: 'chart-service',
    receivers: ['storage-service', 'analysis-service', 'outcome-service'],
  },
  'analysis.requested': { sender: 'analysis-service', receivers: ['analysis-service'] },
  'analysis.progressed': { sender: 'analysis-service', receivers: ['gateway'] },
  'analysis.completed': {
    sender: 'analysis-service',
    receivers: ['gateway', 'chart-service', 'quota-service', 'notification-service', 'outcome-service'],
  },
  'analysis.outcome_resolved': { sender: 'outcome-service', receivers: ['notification-service'] },
  'analysis.failed': {
    sender: 'analysis-service',
    receivers: ['gateway', 'quota-service', 'notification-service'],
  },
  'analysis.multi_timeframe_completed': { sender: 'analysis-service', receivers: ['gateway'] },
  'analysis.backtest_progressed': { sender: 'analysis-service', receivers: ['gateway'] },
  'analysis.backtest_finished': { sender: 'analysis-service', receivers: ['gateway', 'quota-service'] },
  'usage.recorded': { sender: null, receivers: ['quota-service'] },
  'usage.batch_recorded': { sender: 'gateway', receivers: ['quota-service'] },
  'quota.threshold_reached': { sender: 'quota-service', receivers: ['notification-service'] },
};
