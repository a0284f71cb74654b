import { z } from 'zod';

/**
 * CloudEvents 1.0 attributes plus our extensions. `id` is a UUIDv7, so ids sort by time;
 * `dataschema` names the payload's schema and version; `traceparent` is W3C trace context.
 */
export const EventEnvelope = z.object({
  specversion: z.literal('1.0'),
  id: z.uuid(),
  type: z.string().min(1),
  source: z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  /** The entity the event is about, e.g. a chart id. */
  subject: z.string().optional(),
  datacontenttype: z.literal('application/json').default('application/json'),
  /** e.g. `urn:chartwright:events:chart.generated:v1`. */
  dataschema: z.string(),
  traceparent: z.string().optional(),
  tracestate: z.string().optional(),
  data: z.unknown(),
});
export type EventEnvelope = z.infer<typeof EventEnvelope>;

/** A versioned event type: its name, version and payload schema. */
export interface EventDefinition<TType extends string = string, TData extends z.ZodType = z.ZodType> {
  readonly type: TType;
  readonly version: number;
  readonly dataschema: string;
  readonly data: TData;
  readonly description: string;
  /** The full envelope schema with `data` narrowed to this payload. */
  readonly envelope: z.ZodType<TypedEnvelope<TType, z.infer<TData>>>;
}

export type TypedEnvelope<TType extends string, TData> = Omit<EventEnvelope, 'type' | 'data'> & {
  type: TType;
  data: TData;
};

export const dataschemaFor = (type: string, version: number) => `urn:chartwright:events:${type}:v${version}`;

export function defineEvent<TType extends string, TData extends z.ZodType>(
  type: TType,
  version: number,
  data: TData,
  description: string,
): EventDefinition<TType, TData> {
  const dataschema = dataschemaFor(type, version);
  const envelope = EventEnvelope.extend({
    type: z.literal(type),
    dataschema: z.literal(dataschema),
    data,
  }) as unknown as z.ZodType<TypedEnvelope<TType, z.infer<TData>>>;
  return { type, version, dataschema, data, description, envelope };
}

export type EventOf<D> = D extends EventDefinition<infer T, infer S> ? TypedEnvelope<T, z.infer<S>> : never;
export type DataOf<D> = D extends EventDefinition<string, infer S> ? z.infer<S> : never;
