/**
 * JetStream streams, one per domain. Event subjects are the event type, e.g. `chart.generated`.
 * Dead letters go to `dlq.<stream>.<consumer>` in the DLQ stream.
 */
export const STREAMS = {
  USERS: { name: 'USERS', subjects: ['user.>'] },
  CHARTS: { name: 'CHARTS', subjects: ['chart.>'] },
  ANALYSES: { name: 'ANALYSES', subjects: ['analysis.>'] },
  USAGE: { name: 'USAGE', subjects: ['usage.>'] },
  /** Quota facts for people (thresholds reached); kept apart from the high-volume usage ledger. */
  QUOTA: { name: 'QUOTA', subjects: ['quota.>'] },
  DLQ: { name: 'DLQ', subjects: ['dlq.>'] },
} as const;
export type StreamName = keyof typeof STREAMS;

/** The stream that holds an event subject. */
export function streamForSubject(subject: string): StreamName {
  const prefix = subject.split('.')[0];
  switch (prefix) {
    case 'user':
      return 'USERS';
    case 'chart':
      return 'CHARTS';
    case 'analysis':
      return 'ANALYSES';
    case 'usage':
      return 'USAGE';
    case 'quota':
      return 'QUOTA';
    case 'dlq':
      return 'DLQ';
    default:
      throw new Error(`no stream for subject ${subject}`);
  }
}

export const dlqSubject = (stream: string, consumer: string) => `dlq.${stream}.${consumer}`;

// Request/reply subjects (`svc.<service>.<verb>`) live with their message schemas: see `defineRpc` in rpc/.
