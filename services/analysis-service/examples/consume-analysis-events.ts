/**
 * An internal team's consumer of the public analysis events, with its own durable consumer.
 *
 *   NATS_URL=nats://127.0.0.1:4222 DURABLE=my-team-analyses \
 *     node --conditions=development --import tsx services/analysis-service/examples/consume-analysis-events.ts
 *
 * Events are CloudEvents JSON (`type`, `id`, `data`, ...) on the `ANALYSES` stream; their payload
 * schemas are `AnalysisCompleted` / `AnalysisFailed` in @chartwright/contracts (and in its
 * asyncapi.json). Delivery is at least once: use the event `id` to ignore repeats.
 * `BUS_PREFIX` is only for isolated test stacks (streams `<P>_ANALYSES`, subjects `<p>analysis.*`).
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

const servers = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const durable = process.env.DURABLE ?? 'example-analysis-events';
const prefix = process.env.BUS_PREFIX ? `${process.env.BUS_PREFIX}_` : '';
const stream = `${prefix}ANALYSES`;
const subjectPrefix = prefix.toLowerCase();

const nc = await connect({ servers, name: durable });
const jsm = await jetstreamManager(nc);
// One filter per consumer on NATS 2.9: take `analysis.>` and skip `analysis.requested`.
await jsm.consumers
  .add(stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.New,
    filter_subject: `${subjectPrefix}analysis.>`,
    max_deliver: 5,
  })
  .catch(async (err) => {
    // Already there from an earlier run: keep its position.
    if (!/already in use|exists/i.test(String(err?.message))) throw err;
  });

const consumer = await jetstream(nc).consumers.get(stream, durable);
const messages = await consumer.consume({ max_messages: 16 });
const stop = async () => {
  await messages.close();
  await nc.drain();
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
console.log(`consuming ${stream} as ${durable}; Ctrl-C to stop`);

for await (const m of messages) {
  try {
    const event = m.json<{ id: string; type: string; data: Record<string, any> }>();
    if (event.type === 'analysis.completed') {
      const { analysisId, symbol, interval, result, metadata } = event.data;
      console.log(
        `${analysisId} ${symbol} ${interval}: ${result.recommendation} (confidence ${result.confidence}/10, ` +
          `entry ${result.entryPrice}, stop ${result.stopLoss}, target ${result.takeProfit}, ` +
          `R:R ${result.riskRewardRatio}) by ${metadata.model}`,
      );
    } else if (event.type === 'analysis.failed') {
      console.log(`${event.data.analysisId} failed: ${event.data.code}: ${event.data.reason}`);
    }
    m.ack();
  } catch (err) {
    console.error('could not handle a message; it will be redelivered', err);
    m.nak(5_000);
  }
}
