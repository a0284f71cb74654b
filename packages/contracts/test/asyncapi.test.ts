import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi, rpcReceiver } from '../src/asyncapi.js';
import { EVENT_FLOWS } from '../src/events/flows.js';
import { EVENTS } from '../src/events/index.js';
import { RPC_SENDERS } from '../src/rpc/senders.js';

/** Each NATS user of infra/nats.conf and the subjects it may publish. */
function natsPublishers(): Map<string, string[]> {
  const conf = readFileSync(new URL('../../../infra/nats.conf', import.meta.url), 'utf8');
  const users = new Map<string, string[]>();
  for (const block of conf.split(/\n\s*user: /).slice(1)) {
    const name = block.split(/\s/)[0]!;
    const publish = block.slice(block.indexOf('publish:'), block.indexOf('subscribe:'));
    const allow = publish.slice(0, publish.includes('deny:') ? publish.indexOf('deny:') : undefined);
    users.set(
      name,
      [...allow.matchAll(/"([^"]+)"/g)].map((m) => m[1]!),
    );
  }
  return users;
}

describe('AsyncAPI document', () => {
  const doc = buildAsyncApi();
  it('has a channel, an operation and a message schema for every event', () => {
    expect(doc.asyncapi).toBe('3.0.0');
    for (const e of EVENTS) {
      expect(doc.channels).toHaveProperty([e.type]);
      const msg = Object.values(doc.components.messages).find(
        (m) => (m as { title: string }).title === `${e.type} v${e.version}`,
      ) as {
        payload: { schema: { properties: Record<string, { const?: string }>; required: string[] } };
      };
      expect(msg.payload.schema.properties.type?.const).toBe(e.type);
      expect(msg.payload.schema.required).toEqual(
        expect.arrayContaining(['id', 'type', 'source', 'time', 'data']),
      );
    }
  });
  it('names the service that sends each event and those that receive it, as infra/nats.conf allows', () => {
    const publishers = natsPublishers();
    expect(publishers.get('gateway')).toContain('user.registered');
    const ops = doc.operations as Record<string, { action: string; 'x-services': string[] }>;
    for (const e of EVENTS) {
      const flow = EVENT_FLOWS[e.type];
      expect(flow, e.type).toBeDefined();
      const allowed = [...publishers].filter(([, subjects]) => subjects.includes(e.type)).map(([u]) => u);
      expect(allowed, e.type).toEqual(flow!.sender ? [flow!.sender] : []);
      const name = e.type
        .split(/[._]/)
        .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
        .join('');
      expect(ops[`receive${name}`]).toMatchObject({ action: 'receive', 'x-services': flow!.receivers });
      if (flow!.sender)
        expect(ops[`send${name}`]).toMatchObject({ action: 'send', 'x-services': [flow!.sender] });
      else expect(ops[`send${name}`]).toBeUndefined();
    }
  });

  it('has a request channel, a reply channel and both ends of every svc.* request/reply', () => {
    const channels = doc.channels as Record<string, { address: string | null }>;
    const ops = Object.values(doc.operations) as {
      action: string;
      channel: { $ref: string };
      reply?: unknown;
      'x-services': string[];
    }[];
    for (const [subject, senders] of Object.entries(RPC_SENDERS)) {
      expect(channels[subject]?.address).toBe(`${subject}.{sender}`);
      expect(channels[`${subject}.reply`]?.address).toBeNull();
      const on = ops.filter((o) => o.channel.$ref === `#/channels/${subject}`);
      expect(on.map((o) => [o.action, o['x-services']])).toEqual([
        ...(senders.length ? [['send', senders]] : []),
        ['receive', [rpcReceiver(subject)]],
      ]);
      for (const o of on) expect(o.reply).toBeDefined();
    }
  });

  it('matches the committed asyncapi.json (run `pnpm --filter @chartwright/contracts asyncapi`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../asyncapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
