import { z } from 'zod';
import { EVENTS } from './events/index.js';
import { STREAMS, streamForSubject } from './subjects.js';

const pascal = (type: string) =>
  type
    .split(/[._]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');

/**
 * The AsyncAPI 3.0 document of our JetStream events: one channel per event type (its subject),
 * the CloudEvents envelope with the versioned payload as the message schema, and the stream each
 * lives in, so a team can bind its own durable consumer without reading our code.
 */
export function buildAsyncApi(version = '1.0.0') {
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};
  for (const def of EVENTS) {
    const name = `${pascal(def.type)}V${def.version}`;
    const stream = STREAMS[streamForSubject(def.type)].name;
    messages[name] = {
      name,
      title: `${def.type} v${def.version}`,
      summary: def.description,
      contentType: 'application/json',
      headers: {
        schemaFormat: 'application/schema+json;version=draft-07',
        schema: {
          type: 'object',
          properties: {
            'Nats-Msg-Id': {
              type: 'string',
              description: 'The event id: JetStream drops a repeat within the duplicate window.',
            },
            'Ce-Type': { type: 'string', const: def.type },
            traceparent: {
              type: 'string',
              description: 'W3C trace context of the request that caused the event.',
            },
          },
        },
      },
      payload: {
        schemaFormat: 'application/schema+json;version=draft-07',
        schema: z.toJSONSchema(def.envelope, { target: 'draft-7', io: 'output', unrepresentable: 'any' }),
      },
    };
    channels[def.type] = {
      address: def.type,
      title: def.type,
      description: `${def.description} Stored in JetStream stream \`${stream}\` (subjects ${STREAMS[streamForSubject(def.type)].subjects.join(', ')}). Payload schema \`${def.dataschema}\`.`,
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
    };
    operations[`receive${pascal(def.type)}`] = {
      action: 'receive',
      title: `Consume ${def.type}`,
      summary: `Bind a durable pull consumer on stream ${stream} with filter subject ${def.type}, explicit ack.`,
      channel: { $ref: `#/channels/${def.type}` },
      messages: [{ $ref: `#/channels/${def.type}/messages/${name}` }],
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chartwright events',
      version,
      description:
        'Facts published by Chartwright services on NATS JetStream. Each message is a CloudEvents 1.0 JSON envelope; `dataschema` names the payload version. Breaking payload changes get a new version, never an edit. Delivery is at least once: de-duplicate on the envelope `id`.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        host: 'nats:4222',
        protocol: 'nats',
        description: 'NATS with JetStream (streams USERS, CHARTS, ANALYSES, USAGE, QUOTA, DLQ).',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
