import type { Drawing } from '@chartwright/contracts';
import { z } from 'zod';
import { CatalogueError } from '../errors.js';

/** A time as an ISO 8601 string or ms since the epoch; resolved to ms. */
const Time = z.union([
  z.number().int().min(0).max(8.64e15),
  z
    .string()
    .max(40)
    .refine(
      (s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)),
      'must be an ISO 8601 date-time',
    ),
]);
const toMs = (t: z.infer<typeof Time>) => (typeof t === 'number' ? t : Date.parse(t));

const Price = z.number();
const Text = z.string().max(500);

/** Colours land in SVG attributes: only plain hex, rgb()/rgba() and colour names get through. */
export const Color = z
  .string()
  .max(40)
  .regex(
    /^(#[0-9a-fA-F]{3,8}|rgba?\(\s*[\d.]+%?\s*,\s*[\d.]+%?\s*,\s*[\d.]+%?\s*(,\s*[\d.]+%?\s*)?\)|[a-zA-Z]{3,20})$/,
    'must be a colour such as #f23645, rgba(242, 54, 69, 0.5) or red',
  );

/** Overrides the built-in renderer understands; other keys pass through for chart-img.com. */
export const DrawingOverride = z.looseObject({
  linecolor: Color.optional(),
  backgroundColor: Color.optional(),
  textColor: Color.optional(),
  text: Text.optional(),
  /** 0 solid, 1 dotted, 2 dashed. */
  linestyle: z.union([z.literal(0), z.literal(1), z.literal(2)]).optional(),
  linewidth: z.number().min(0.5).max(10).optional(),
  fontsize: z.number().int().min(6).max(72).optional(),
});
export type DrawingOverride = z.infer<typeof DrawingOverride>;

/** Canonical inputs after resolution: times in ms. Which fields are set depends on the drawing. */
export interface DrawingInput {
  price?: number;
  datetime?: number;
  startDatetime?: number;
  startPrice?: number;
  endDatetime?: number;
  endPrice?: number;
  entryPrice?: number;
  targetPrice?: number;
  stopPrice?: number;
  text?: string;
}

export interface DrawingDef {
  /** chart-img.com's name. */
  name: string;
  /** Canonical input keys → other accepted names. */
  aliases: Readonly<Record<string, readonly string[]>>;
  schema: z.ZodType<DrawingInput>;
}

export interface ResolvedDrawing {
  def: DrawingDef;
  name: string;
  input: DrawingInput;
  override: DrawingOverride;
}

const point = { datetime: ['startDatetime', 'time', 'date'], price: ['startPrice'] } as const;
const segment = {
  startDatetime: ['startTime', 'start_datetime'],
  endDatetime: ['endTime', 'end_datetime'],
  startPrice: ['start_price'],
  endPrice: ['end_price'],
} as const;

const segmentSchema = z
  .strictObject({
    startDatetime: Time,
    startPrice: Price,
    endDatetime: Time,
    endPrice: Price,
    text: Text.optional(),
  })
  .transform((v) => ({ ...v, startDatetime: toMs(v.startDatetime), endDatetime: toMs(v.endDatetime) }));

const pointSchema = (textRequired: boolean) =>
  z
    .strictObject({ datetime: Time, price: Price, text: textRequired ? Text.min(1) : Text.optional() })
    .transform((v) => ({ ...v, datetime: toMs(v.datetime) }));

const positionSchema = (side: 'long' | 'short') =>
  z
    .strictObject({
      startDatetime: Time,
      entryPrice: Price,
      targetPrice: Price,
      stopPrice: Price,
      endDatetime: Time.optional(),
      text: Text.optional(),
    })
    .superRefine((v, ctx) => {
      const ok =
        side === 'long'
          ? v.targetPrice > v.entryPrice && v.entryPrice > v.stopPrice
          : v.targetPrice < v.entryPrice && v.entryPrice < v.stopPrice;
      if (!ok) {
        ctx.addIssue({
          code: 'custom',
          path: ['targetPrice'],
          message:
            side === 'long'
              ? 'a long position needs targetPrice > entryPrice > stopPrice'
              : 'a short position needs targetPrice < entryPrice < stopPrice',
        });
      }
    })
    .transform((v) => ({
      ...v,
      startDatetime: toMs(v.startDatetime),
      endDatetime: v.endDatetime === undefined ? undefined : toMs(v.endDatetime),
    }));

export const DRAWINGS: readonly DrawingDef[] = [
  {
    name: 'Horizontal Line',
    aliases: { price: ['startPrice', 'value'] },
    schema: z.strictObject({ price: Price, text: Text.optional() }),
  },
  {
    name: 'Vertical Line',
    aliases: { datetime: point.datetime },
    schema: z
      .strictObject({ datetime: Time, text: Text.optional() })
      .transform((v) => ({ ...v, datetime: toMs(v.datetime) })),
  },
  { name: 'Trend Line', aliases: segment, schema: segmentSchema },
  { name: 'Rectangle', aliases: segment, schema: segmentSchema },
  { name: 'Fib Retracement', aliases: segment, schema: segmentSchema },
  {
    name: 'Long Position',
    aliases: { startDatetime: ['datetime', 'startTime'] },
    schema: positionSchema('long'),
  },
  {
    name: 'Short Position',
    aliases: { startDatetime: ['datetime', 'startTime'] },
    schema: positionSchema('short'),
  },
  // Text may also come as override.text; resolveDrawing moves it into the input first.
  { name: 'Text', aliases: point, schema: pointSchema(true) },
  { name: 'Arrow Mark Up', aliases: point, schema: pointSchema(false) },
  { name: 'Arrow Mark Down', aliases: point, schema: pointSchema(false) },
];

export const DRAWING_NAMES: readonly string[] = DRAWINGS.map((d) => d.name);

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();
const BY_NAME = new Map(DRAWINGS.map((d) => [norm(d.name), d]));

export function findDrawing(name: string): DrawingDef | undefined {
  return BY_NAME.get(norm(name));
}

/** Input keys of a (possibly transformed) object schema. */
function acceptedKeys(schema: unknown): string[] {
  let s = schema as { shape?: object; in?: unknown } | undefined;
  for (let depth = 0; s && depth < 4; depth++) {
    if (s.shape) return Object.keys(s.shape);
    s = s.in as typeof s;
  }
  return [];
}

function issueMessage(def: DrawingDef, where: 'input' | 'override', issue: z.core.$ZodIssue): CatalogueError {
  const field = issue.path.join('.');
  let why = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const accepted = [...acceptedKeys(def.schema)];
    why = `unknown ${where} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return new CatalogueError(
      `${def.name}: ${why}${accepted.length ? `. Accepted: ${accepted.join(', ')}` : ''}`,
      {
        kind: 'drawing',
        name: def.name,
        field: issue.keys[0],
      },
    );
  }
  if (issue.code === 'invalid_type' && issue.message.includes('received undefined')) why = 'is required';
  return new CatalogueError(`${def.name}: ${where} "${field}" ${why}`, {
    kind: 'drawing',
    name: def.name,
    field,
  });
}

/**
 * Validates a drawing: its name (unknown names throw a {@link CatalogueError} listing the supported
 * ones), its input (prices, times as ISO strings or ms, text; chart-img.com's names and a few aliases)
 * and the overrides the built-in renderer uses (colours, text, line style, width, font size).
 */
export function resolveDrawing(drawing: Drawing): ResolvedDrawing {
  const def = findDrawing(drawing.name);
  if (!def) {
    throw new CatalogueError(
      `Unknown drawing "${drawing.name}". Supported drawings: ${DRAWING_NAMES.join(', ')}`,
      {
        kind: 'drawing',
        name: drawing.name,
        supported: DRAWING_NAMES,
      },
    );
  }
  const override = DrawingOverride.safeParse(drawing.override ?? {});
  if (!override.success) throw issueMessage(def, 'override', override.error.issues[0]!);

  const raw: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(drawing.input ?? {})) {
    const canonical = Object.entries(def.aliases).find(([, names]) => names.includes(key))?.[0] ?? key;
    if (canonical in raw && raw[canonical] !== value) {
      throw new CatalogueError(`${def.name}: input "${key}" repeats "${canonical}" with a different value`, {
        kind: 'drawing',
        name: def.name,
        field: key,
      });
    }
    raw[canonical] = value;
  }
  if (def.name === 'Text' && raw.text === undefined && override.data.text !== undefined) {
    raw.text = override.data.text;
  }
  const input = def.schema.safeParse(raw);
  if (!input.success) throw issueMessage(def, 'input', input.error.issues[0]!);
  return { def, name: def.name, input: input.data, override: override.data };
}
