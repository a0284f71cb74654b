import { z } from 'zod';
import { EVENT_FLOWS } from './events/flows.js';
import { EVENTS } from './events/index.js';
import * as contracts from './index.js';
import type { RpcDefinition } from './rpc/index.js';
import { SERVICES, type ServiceName } from './rpc/senders.js';
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
    const flow = EVENT_FLOWS[def.type] ?? { sender: null, receivers: [] };
    const ref = { $ref: `#/channels/${def.type}/messages/${name}` };
    if (flow.sender)
      operations[`send${pascal(def.type)}`] = {
        action: 'send',
        title: `${flow.sender} publishes ${def.type}`,
        summary: 'Published through the outbox, after the transaction that made the fact commits.',
        channel: { $ref: `#/channels/${def.type}` },
        messages: [ref],
        'x-services': [flow.sender],
      };
    operations[`receive${pascal(def.type)}`] = {
      action: 'receive',
      title: `Consume ${def.type}`,
      summary:
        `Received by ${flow.receivers.join(', ') || 'no service'}. To consume it too, bind a durable pull ` +
        `consumer on stream ${stream} with filter subject ${def.type}, explicit ack.`,
      channel: { $ref: `#/channels/${def.type}` },
      messages: [ref],
      'x-services': flow.receivers,
    };
  }
  addRequestReply(channels, operations, messages);
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Chartwright events',
      version,
      description:
        'Facts published by Chartwright services on NATS JetStream, and the request/reply calls between them. Each event is a CloudEvents 1.0 JSON envelope; `dataschema` names the payload version. Breaking payload changes get a new version, never an edit. Delivery is at least once: de-duplicate on the envelope `id`. Each operation names the services that send or receive it in `x-services`.',
    },
    defaultContentType: 'application/json',
    servers: {
      nats: {
        host: 'nats:4222',
        protocol: 'nats',
        description:
          'NATS with JetStream (streams USERS, CHARTS, ANALYSES, USAGE, QUOTA, DLQ); the `svc.*` requests are plain NATS request/reply.',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}

const isRpc = (v: unknown): v is RpcDefinition =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as RpcDefinition).subject === 'string' &&
  (v as RpcDefinition).subject.startsWith('svc.') &&
  'reply' in v;

/** The service that answers `svc.<service>.<verb>`. */
export function rpcReceiver(subject: string): ServiceName {
  const name = `${subject.split('.')[1]}-service`;
  const found = SERVICES.find((s) => s === name);
  if (!found) throw new Error(`no service answers ${subject}`);
  return found;
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => ({
  schemaFormat: 'application/schema+json;version=draft-07',
  schema: z.toJSONSchema(schema, { target: 'draft-7', io, unrepresentable: 'any' }),
});

/**
 * The `svc.*` request/reply calls: a sender requests on `<subject>.<sender>` (its own name last,
 * which its NATS permissions enforce) and the answering service replies `{ok, data}` or
 * `{ok: false, error}` to the request's reply inbox.
 */
function addRequestReply(
  channels: Record<string, unknown>,
  operations: Record<string, unknown>,
  messages: Record<string, unknown>,
) {
  const bySubject = new Map<string, RpcDefinition>();
  for (const v of Object.values(contracts) as unknown[]) if (isRpc(v)) bySubject.set(v.subject, v);
  const defs = [...bySubject.values()].sort((a, b) => a.subject.localeCompare(b.subject));
  for (const def of defs) {
    const name = pascal(def.subject.replace(/^svc\./, 'svc_'));
    const receiver = rpcReceiver(def.subject);
    messages[`${name}Request`] = {
      name: `${name}Request`,
      title: `${def.subject} request`,
      contentType: 'application/json',
      headers: {
        ...jsonSchema(
          z.object({
            'Cw-User': z
              .string()
              .optional()
              .describe('The user the request acts for; must match its `userId`.'),
            traceparent: z.string().optional().describe('W3C trace context of the caller.'),
          }),
          'input',
        ),
      },
      payload: jsonSchema(def.request, 'input'),
    };
    messages[`${name}Reply`] = {
      name: `${name}Reply`,
      title: `${def.subject} reply`,
      contentType: 'application/json',
      payload: jsonSchema(def.reply, 'output'),
    };
    const senders = def.senders.length ? def.senders : [];
    channels[def.subject] = {
      address: `${def.subject}.{sender}`,
      title: def.subject,
      description: `A request to ${receiver}. ${
        senders.length
          ? `Sent by ${senders.join(', ')}, each on its own subject.`
          : 'No service sends it: for tests and tools, on an open NATS.'
      } On a NATS without accounts the bare subject \`${def.subject}\` is served too.`,
      parameters: {
        sender: {
          description: 'The sending service (its NATS user may publish only its own name here).',
          ...(senders.length ? { enum: [...senders] } : {}),
        },
      },
      messages: { [`${name}Request`]: { $ref: `#/components/messages/${name}Request` } },
    };
    channels[`${def.subject}.reply`] = {
      address: null,
      title: `${def.subject} reply`,
      description: "The requester's inbox (`_INBOX.<sender>.>`), named by the request's NATS reply subject.",
      messages: { [`${name}Reply`]: { $ref: `#/components/messages/${name}Reply` } },
    };
    const reply = {
      channel: { $ref: `#/channels/${def.subject}.reply` },
      messages: [{ $ref: `#/channels/${def.subject}.reply/messages/${name}Reply` }],
    };
    const request = [{ $ref: `#/channels/${def.subject}/messages/${name}Request` }];
    if (senders.length)
      operations[`request${name}`] = {
        action: 'send',
        title: `${senders.join(', ')} → ${def.subject}`,
        channel: { $ref: `#/channels/${def.subject}` },
        messages: request,
        reply,
        'x-services': senders,
      };
    operations[`answer${name}`] = {
      action: 'receive',
      title: `${receiver} answers ${def.subject}`,
      channel: { $ref: `#/channels/${def.subject}` },
      messages: request,
      reply,
      'x-services': [receiver],
    };
  }
}
