/**
 * A strict reader of the Prometheus text exposition format (0.0.4) for tests: every line must be
 * a comment (`# HELP`, `# TYPE`, `# UNIT` or other) or a sample `name{labels} value`; anything
 * else throws. Returns the samples by metric name (a histogram's `_bucket`, `_sum`, `_count`
 * are their own names), and the declared types by family.
 */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface Scrape {
  samples: Map<string, Sample[]>;
  types: Map<string, string>;
  /** The samples of `name` whose labels include `match`. */
  get(name: string, match?: Record<string, string>): Sample[];
  /** The sum of the values of `name` whose labels include `match` (0 when none). */
  sum(name: string, match?: Record<string, string>): number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(\\{(.*)\\})?\\s+(\\S+)(\\s+-?\\d+)?$`);
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, line: string): number {
  if (s === '+Inf') return Number.POSITIVE_INFINITY;
  if (s === '-Inf') return Number.NEGATIVE_INFINITY;
  if (s === 'NaN') return Number.NaN;
  const n = Number(s);
  if (s === '' || Number.isNaN(n)) throw new Error(`bad sample value in: ${line}`);
  return n;
}

function parseLabels(body: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < body.length) {
    const m = LABEL.exec(body);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    if (m[3] === '') break;
  }
  return labels;
}

export function parsePrometheusText(text: string): Scrape {
  const samples = new Map<string, Sample[]>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const t = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (t) {
        if (!TYPES.has(t[2]!)) throw new Error(`unknown type in: ${line}`);
        if (types.has(t[1]!)) throw new Error(`second TYPE for ${t[1]}`);
        types.set(t[1]!, t[2]!);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const sample = { labels: m[3] ? parseLabels(m[3], line) : {}, value: parseValue(m[4]!, line) };
    const list = samples.get(m[1]!) ?? [];
    list.push(sample);
    samples.set(m[1]!, list);
  }
  const get = (name: string, match: Record<string, string> = {}) =>
    (samples.get(name) ?? []).filter((s) => Object.entries(match).every(([k, v]) => s.labels[k] === v));
  return { samples, types, get, sum: (name, match) => get(name, match).reduce((a, s) => a + s.value, 0) };
}
