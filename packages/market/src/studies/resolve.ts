import type { Study } from '@chartwright/contracts';
import type { Bar } from '../bars.js';
import { CatalogueError } from '../errors.js';
import { STUDIES, STUDY_NAMES } from './catalogue.js';
import type { InputDef, InputValue, ResolvedStudy, StudyDef, StudyLines } from './types.js';

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();

const BY_NAME = new Map<string, StudyDef>();
for (const def of STUDIES) {
  for (const n of [def.name, ...def.aliases]) BY_NAME.set(norm(n), def);
}

/** A study by chart-img.com's name, or a common short name (`RSI`, `EMA`), case-insensitive. */
export function findStudy(name: string): StudyDef | undefined {
  return BY_NAME.get(norm(name));
}

function unknownStudy(name: string): CatalogueError {
  return new CatalogueError(`Unknown study "${name}". Supported studies: ${STUDY_NAMES.join(', ')}`, {
    kind: 'study',
    name,
    supported: STUDY_NAMES,
  });
}

function checkValue(def: StudyDef, input: InputDef, given: string, value: unknown): InputValue {
  const fail = (why: string) =>
    new CatalogueError(`${def.name}: input "${given}" ${why}`, {
      kind: 'study',
      name: def.name,
      field: given,
    });
  switch (input.type) {
    case 'int':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw fail(`must be a number, got ${value === null ? 'null' : typeof value}`);
      }
      if (input.type === 'int' && !Number.isInteger(value))
        throw fail(`must be a whole number, got ${value}`);
      if ((input.min !== undefined && value < input.min) || (input.max !== undefined && value > input.max)) {
        throw fail(`must be between ${input.min} and ${input.max}, got ${value}`);
      }
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw fail(`must be true or false, got ${typeof value}`);
      return value;
    default: {
      const options = input.options ?? [];
      const match =
        typeof value === 'string' ? options.find((o) => o.toLowerCase() === value.toLowerCase()) : undefined;
      if (match === undefined)
        throw fail(`must be one of ${options.join(', ')}, got ${JSON.stringify(value)}`);
      return match;
    }
  }
}

/** Maps each given input name to its definition; rejects unknown names and contradicting aliases. */
function matchInputs(def: StudyDef, given: Record<string, unknown>): Map<InputDef, [string, unknown]> {
  const found = new Map<InputDef, [string, unknown]>();
  for (const [key, value] of Object.entries(given)) {
    const input = def.inputs.find((d) => d.key === key || d.aliases.includes(key) || d.chartImg === key);
    if (!input) {
      const accepted = def.inputs.map((d) => [d.key, ...d.aliases].join('/'));
      throw new CatalogueError(
        `${def.name}: unknown input "${key}"` +
          (accepted.length ? `. Accepted inputs: ${accepted.join(', ')}` : '; it takes no inputs'),
        { kind: 'study', name: def.name, field: key },
      );
    }
    const prior = found.get(input);
    if (prior && prior[1] !== value) {
      throw new CatalogueError(
        `${def.name}: inputs "${prior[0]}" and "${key}" name the same setting with different values`,
        { kind: 'study', name: def.name, field: key },
      );
    }
    found.set(input, [key, value]);
  }
  return found;
}

/**
 * Validates a study from a chart config: its name (unknown names throw a {@link CatalogueError}
 * listing the supported ones) and its inputs (unknown names, wrong types, out-of-range values).
 * Null inputs take the default.
 */
export function resolveStudy(study: Study): ResolvedStudy {
  const def = findStudy(study.name);
  if (!def) throw unknownStudy(study.name);
  const given = matchInputs(def, study.input ?? {});
  const inputs: Record<string, InputValue> = {};
  for (const input of def.inputs) {
    const g = given.get(input);
    inputs[input.key] = g === undefined || g[1] === null ? input.default : checkValue(def, input, g[0], g[1]);
  }
  if (def.name === 'MACD' && (inputs.fast as number) >= (inputs.slow as number)) {
    throw new CatalogueError('MACD: input "fast" must be shorter than "slow"', {
      kind: 'study',
      name: def.name,
      field: 'fast',
    });
  }
  if (def.name === 'Parabolic SAR' && (inputs.max as number) <= (inputs.increment as number)) {
    throw new CatalogueError('Parabolic SAR: input "max" must be greater than "increment"', {
      kind: 'study',
      name: def.name,
      field: 'max',
    });
  }
  const shown = def.inputs
    .filter((d) => d.type === 'int' || d.type === 'number')
    .filter((d) => d.key !== 'offset');
  const title = def.name === 'Volume' ? 'Volume' : [def.short, ...shown.map((d) => inputs[d.key])].join(' ');
  return { def, inputs, override: { ...(study.override ?? {}) }, title };
}

/** Resolves every study, so that a config's first bad study is reported before any work is done. */
export function resolveStudies(studies: readonly Study[]): ResolvedStudy[] {
  return studies.map(resolveStudy);
}

/** Computes a resolved study's output lines, aligned to `bars`. */
export function computeStudy(study: ResolvedStudy, bars: readonly Bar[]): StudyLines {
  return study.def.compute(bars, study.inputs);
}

/**
 * The inputs a client gave, renamed to chart-img.com's input names (`period` → `length` for RSI,
 * `stddev` → `in_1` for Bollinger Bands…), values validated. Inputs chart-img.com does not have are
 * dropped; defaults are not added, so chart-img.com applies its own.
 */
export function toChartImgInputs(study: Study): Record<string, InputValue> {
  const resolved = resolveStudy(study);
  const out: Record<string, InputValue> = {};
  for (const [input, [, value]] of matchInputs(resolved.def, study.input ?? {})) {
    if (input.chartImg && value !== null) out[input.chartImg] = resolved.inputs[input.key]!;
  }
  return out;
}

/** A study as chart-img.com expects it: the canonical name and translated inputs. */
export function toChartImgStudy(study: Study): Study {
  const def = findStudy(study.name);
  if (!def) throw unknownStudy(study.name);
  const input = toChartImgInputs(study);
  return {
    name: def.name,
    ...(Object.keys(input).length ? { input } : {}),
    ...(study.override ? { override: study.override } : {}),
  };
}
