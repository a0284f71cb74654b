/** The processes that call each other over request/reply: each has its own NATS user. */
export const SERVICES = [
  'gateway',
  'chart-service',
  'analysis-service',
  'storage-service',
  'quota-service',
  'notification-service',
  'outcome-service',
] as const;
export type ServiceName = (typeof SERVICES)[number];

/**
 * Who may send each request, on behalf of the user it names. With a locked-down NATS a sender
 * publishes on `<subject>.<sender>` and its NATS permissions allow only its own suffix on the
 * subjects listed here (`infra/nats.conf` mirrors this table; a test checks it), so the subject a
 * request arrives on names its sender, asserted by the server. The gateway authenticates users;
 * services act on its word, and pass it on only where listed (chart-service reserves chart quota,
 * analysis-service analysis quota and asks chart-service for a multi-timeframe run's charts). Subjects with no sender are for tests and tools on an open NATS.
 */
export const RPC_SENDERS: Readonly<Record<string, readonly ServiceName[]>> = {
  'svc.chart.generate': ['gateway'],
  'svc.chart.bulk': ['gateway'],
  'svc.chart.compare': ['gateway'],
  'svc.chart.generate_set': ['analysis-service'],
  'svc.chart.render': ['gateway'],
  'svc.chart.render_bars': ['gateway', 'analysis-service'],
  'svc.chart.export_page': ['gateway'],
  'svc.chart.list': ['gateway'],
  'svc.chart.get': ['gateway', 'analysis-service'],
  'svc.chart.delete': ['gateway'],
  'svc.chart.template_create': ['gateway'],
  'svc.chart.template_list': ['gateway'],
  'svc.chart.template_get': ['gateway'],
  'svc.chart.template_delete': ['gateway'],
  'svc.analysis.request': ['gateway'],
  'svc.analysis.get': ['gateway'],
  'svc.analysis.list': ['gateway'],
  'svc.analysis.list_for_chart': ['gateway'],
  'svc.analysis.export_page': ['gateway'],
  'svc.analysis.multi_timeframe_create': ['gateway'],
  'svc.analysis.multi_timeframe_get': ['gateway'],
  'svc.analysis.multi_timeframe_list': ['gateway'],
  'svc.analysis.backtest_create': ['gateway'],
  'svc.analysis.backtest_get': ['gateway'],
  'svc.analysis.backtest_trades': ['gateway'],
  'svc.analysis.backtest_list': ['gateway'],
  'svc.analysis.backtest_cancel': ['gateway'],
  'svc.analysis.backtest_delete': ['gateway'],
  'svc.storage.chart_objects': [],
  'svc.quota.reserve': ['chart-service', 'analysis-service'],
  'svc.quota.release': ['chart-service', 'analysis-service'],
  'svc.quota.commit': [],
  'svc.quota.get': ['gateway', 'chart-service', 'analysis-service'],
  'svc.quota.usage': ['gateway'],
  'svc.quota.set_plan': ['gateway'],
  'svc.notification.webhook_create': ['gateway'],
  'svc.notification.webhook_list': ['gateway'],
  'svc.notification.webhook_get': ['gateway'],
  'svc.notification.webhook_update': ['gateway'],
  'svc.notification.webhook_delete': ['gateway'],
  'svc.notification.webhook_rotate': ['gateway'],
  'svc.notification.webhook_test': ['gateway'],
  'svc.notification.delivery_list': ['gateway'],
  'svc.notification.delivery_get': ['gateway'],
  'svc.notification.delivery_retry': ['gateway'],
  'svc.notification.preferences_get': ['gateway'],
  'svc.notification.preferences_set': ['gateway'],
  'svc.notification.unsubscribe': ['gateway'],
  'svc.outcome.get': ['gateway'],
  'svc.outcome.scorecard': ['gateway'],
  'svc.outcome.scorecard_by_model': ['gateway'],
};
