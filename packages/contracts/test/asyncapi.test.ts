import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildAsyncApi } from '../src/asyncapi.js';
import { EVENTS } from '../src/events/index.js';

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
  it('matches the committed asyncapi.json (run `pnpm --filter @chartwright/contracts asyncapi`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../asyncapi.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});
