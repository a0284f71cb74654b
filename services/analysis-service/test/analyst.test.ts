import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnalystOutput } from '@chartwright/contracts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ANALYSIS_TOOL_NAME,
  AnalystError,
  type AnalystInput,
  AnthropicAnalyst,
  type AnthropicAnalystConfig,
  anthropicConfigFromEnv,
  DEFAULT_ANTHROPIC_MODEL,
} from '../src/analyst/index.js';
import { credentialOf, FakeAnthropic, seededRandom } from './support/fake-anthropic.js';

const API_KEY = 'sk-ant-test-key';

const GOOD: AnalystOutput = {
  trend: 'bullish',
  signals: ['RSI(14) at 61.2, above 50', 'close 64250 above EMA(50) 63010'],
  recommendation: 'LONG',
  entryPrice: 64250,
  stopLoss: 62800,
  takeProfit: 67500,
  confidence: 7,
  analysisText: 'Higher lows since 61500; a close below 62800 invalidates the idea.',
  keyLevels: { support: [62800, 61500], resistance: [66000, 67500] },
};

const MALFORMED = { ...GOOD, confidence: 'high', analysisText: undefined, entryPrice: '64250' };

let fake: FakeAnthropic;
let dir: string;
let png: Buffer;
let input: AnalystInput;

function analyst(overrides: Partial<AnthropicAnalystConfig> = {}): AnthropicAnalyst {
  return new AnthropicAnalyst({
    apiKey: API_KEY,
    baseURL: fake.url,
    model: 'claude-test-model',
    timeoutMs: 5000,
    totalTimeoutMs: 20_000,
    maxRetries: 2,
    inputUsdPerMTok: 3,
    outputUsdPerMTok: 15,
    ...overrides,
  });
}

async function failure(promise: Promise<unknown>): Promise<AnalystError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AnalystError);
  return error as AnalystError;
}

beforeAll(async () => {
  fake = await FakeAnthropic.start({ apiKey: API_KEY });
  dir = await mkdtemp(join(tmpdir(), 'analyst-'));
  png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), randomBytes(2048)]);
  const imagePath = join(dir, 'chart.png');
  await writeFile(imagePath, png);
  input = {
    imagePath,
    mediaType: 'image/png',
    symbol: 'BINANCE:BTCUSDT',
    interval: '4h',
    tradingStyle: 'swing_trading',
    userPrompt: 'Is this a good long entry?',
    readings: { 'RSI(14)': 61.2, 'EMA(50)': 63010.5, 'MACD(12,26,9) histogram': 42.1, Trend: 'up' },
    recentBars: Array.from({ length: 25 }, (_, i) => ({
      time: Date.UTC(2025, 0, 1) + i * 4 * 3_600_000,
      open: 63000 + i * 50,
      high: 63200 + i * 50,
      low: 62900 + i * 50,
      close: 63100 + i * 50,
      volume: 1000 + i,
    })),
    lastPrice: 64250,
  };
});

afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  fake.reset();
  fake.setDefault(undefined);
});

describe('AnthropicAnalyst request', () => {
  it('sends the chart as a base64 image block with the data the numbers must rest on', async () => {
    fake.enqueue({ kind: 'tool', input: GOOD });
    await analyst().analyse(input);

    expect(fake.requests).toHaveLength(1);
    const { body, headers } = fake.requests[0]!;
    expect(credentialOf(headers)).toBe(API_KEY);
    expect(headers['anthropic-version']).toBeTruthy();
    expect(body.model).toBe('claude-test-model');

    const [image, text] = body.messages[0].content;
    expect(body.messages[0].role).toBe('user');
    expect(image).toEqual({
      type: 'image',
      source: { type: 'base64', media_type: 'image/png', data: png.toString('base64') },
    });
    expect(Buffer.from(image.source.data, 'base64').equals(png)).toBe(true);

    expect(text.type).toBe('text');
    for (const needle of [
      'BINANCE:BTCUSDT',
      'Interval: 4h',
      'swing trading',
      'Last price: 64250',
      'RSI(14): 61.2',
      'EMA(50): 63010.5',
      'Is this a good long entry?',
      '2025-01-05T00:00:00.000Z, 64200, 64400, 64100, 64300, 1024',
    ]) {
      expect(text.text).toContain(needle);
    }
    // Only the last 20 of the 25 bars.
    expect(text.text).not.toContain('2025-01-01T16:00:00.000Z');
    expect(text.text).toContain('Most recent 20 bars');
    expect(body.system).toContain('stopLoss < entryPrice < takeProfit');

    expect(body.tool_choice).toEqual({
      type: 'tool',
      name: ANALYSIS_TOOL_NAME,
      disable_parallel_tool_use: true,
    });
    expect(body.tools).toHaveLength(1);
    const schema = body.tools[0].input_schema;
    expect(schema.type).toBe('object');
    expect(Object.keys(schema.properties).sort()).toEqual(Object.keys(GOOD).sort());
    expect(schema.required).toEqual(expect.arrayContaining(['recommendation', 'confidence', 'keyLevels']));
    expect(schema.properties.recommendation.enum).toEqual(['LONG', 'SHORT', 'NEUTRAL']);
  });

  it('sends the type the bytes really are', async () => {
    const jpeg = join(dir, 'mislabelled.png');
    await writeFile(jpeg, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(64)]));
    fake.enqueue({ kind: 'tool', input: GOOD });
    await analyst().analyse({ ...input, imagePath: jpeg, mediaType: 'image/png' });
    expect(fake.requests[0]!.body.messages[0].content[0].source.media_type).toBe('image/jpeg');
  });

  it('refuses images the model cannot read without calling the API', async () => {
    const svg = join(dir, 'chart.svg');
    await writeFile(svg, '<svg xmlns="http://www.w3.org/2000/svg"></svg>');
    const notRaster = await failure(
      analyst().analyse({ ...input, imagePath: svg, mediaType: 'image/svg+xml' }),
    );
    expect(notRaster.code).toBe('INVALID_INPUT');
    const missing = await failure(analyst().analyse({ ...input, imagePath: join(dir, 'missing.png') }));
    expect(missing.code).toBe('INVALID_INPUT');
    const tooBig = await failure(analyst({ maxImageBytes: 100 }).analyse(input));
    expect(tooBig.code).toBe('INVALID_INPUT');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('AnthropicAnalyst answers', () => {
  it('parses a good answer and reports tokens, cost and model', async () => {
    fake.enqueue({ kind: 'tool', input: GOOD, usage: { input_tokens: 1500, output_tokens: 400 } });
    const answer = await analyst().analyse(input);
    expect(answer).toEqual({ output: GOOD, tokensUsed: 1900, costUsd: 0.0105, model: 'claude-test-model' });
  });

  it('leaves out the cost when no prices are configured', async () => {
    fake.enqueue({ kind: 'tool', input: GOOD });
    const answer = await analyst({ inputUsdPerMTok: undefined, outputUsdPerMTok: undefined }).analyse(input);
    expect(answer.costUsd).toBeUndefined();
  });

  it('repairs a malformed answer once, sending the validation errors back as an error tool_result', async () => {
    fake.enqueue(
      { kind: 'tool', input: MALFORMED, usage: { input_tokens: 1000, output_tokens: 300 } },
      { kind: 'tool', input: GOOD, usage: { input_tokens: 1400, output_tokens: 350 } },
    );
    const answer = await analyst().analyse(input);
    expect(answer.output).toEqual(GOOD);
    expect(answer.repaired).toBe(true);
    expect(answer.tokensUsed).toBe(3050);

    expect(fake.requests).toHaveLength(2);
    const messages = fake.requests[1]!.body.messages;
    expect(messages).toHaveLength(3);
    expect(messages[0]).toEqual(fake.requests[0]!.body.messages[0]);
    const toolUse = messages[1].content.find((b: { type: string }) => b.type === 'tool_use');
    expect(messages[1].role).toBe('assistant');
    expect(toolUse).toMatchObject({ name: ANALYSIS_TOOL_NAME, input: { confidence: 'high' } });
    expect(messages[2].role).toBe('user');
    const result = messages[2].content[0];
    expect(result).toMatchObject({ type: 'tool_result', tool_use_id: toolUse.id, is_error: true });
    expect(result.content).toContain('confidence');
    expect(result.content).toContain('analysisText');
  });

  it('asks again when the model answers with text instead of the tool', async () => {
    fake.enqueue({ kind: 'text', text: 'Looks bullish to me.' }, { kind: 'tool', input: GOOD });
    const answer = await analyst().analyse(input);
    expect(answer.repaired).toBe(true);
    const messages = fake.requests[1]!.body.messages;
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: 'Looks bullish to me.' }],
    });
    expect(messages[2].content[0].text).toContain(ANALYSIS_TOOL_NAME);
  });

  it('fails with INVALID_OUTPUT when the repaired answer is malformed too', async () => {
    fake.enqueue({ kind: 'tool', input: MALFORMED }, { kind: 'tool', input: { trend: 'sideways' } });
    const error = await failure(analyst().analyse(input));
    expect(error.code).toBe('INVALID_OUTPUT');
    expect(error.retryable).toBe(false);
    expect(error.tokensUsed).toBe(3800);
    expect(error.message).toContain('trend');
    expect(fake.requests).toHaveLength(2);
  });
});

describe('AnthropicAnalyst failures', () => {
  it('retries a 429 after the retry-after the API asked for', async () => {
    fake.enqueue({ kind: 'error', status: 429, retryAfter: '1' }, { kind: 'tool', input: GOOD });
    const started = Date.now();
    const answer = await analyst().analyse(input);
    expect(answer.output).toEqual(GOOD);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fake.requests).toHaveLength(2);
    expect(fake.requests[1]!.headers['x-stainless-retry-count']).toBe('1');
  });

  it('retries 529 overloaded and 500 answers', async () => {
    fake.enqueue(
      { kind: 'error', status: 529, retryAfter: '0.01' },
      { kind: 'error', status: 500, retryAfter: '0.01' },
      { kind: 'tool', input: GOOD },
    );
    const answer = await analyst().analyse(input);
    expect(answer.output).toEqual(GOOD);
    expect(fake.requests.map((r) => r.reply.kind)).toEqual(['error', 'error', 'tool']);
  });

  it('reports RATE_LIMITED with the wait once retries are exhausted', async () => {
    const limited = { kind: 'error', status: 429, retryAfter: '0.02' } as const;
    fake.enqueue(limited, limited, limited);
    const error = await failure(analyst().analyse(input));
    expect(error).toMatchObject({ code: 'RATE_LIMITED', retryable: true, status: 429, retryAfterMs: 20 });
    expect(fake.requests).toHaveLength(3);
  });

  it('reports a persistent 529 as a retryable UPSTREAM_ERROR', async () => {
    const overloaded = { kind: 'error', status: 529, retryAfter: '0.01' } as const;
    fake.enqueue(overloaded, overloaded, overloaded);
    const error = await failure(analyst().analyse(input));
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', retryable: true, status: 529 });
    expect(error.message).toContain('overloaded');
  });

  it('does not retry 401 or 403', async () => {
    const unauthorised = await failure(analyst({ apiKey: 'sk-ant-wrong' }).analyse(input));
    expect(unauthorised).toMatchObject({ code: 'AUTH', status: 401, retryable: false });
    expect(fake.requests).toHaveLength(1);

    fake.reset();
    fake.enqueue({ kind: 'error', status: 403 });
    const forbidden = await failure(analyst().analyse(input));
    expect(forbidden).toMatchObject({ code: 'AUTH', status: 403, retryable: false });
    expect(fake.requests).toHaveLength(1);
  });

  it('does not retry a 400', async () => {
    fake.enqueue({ kind: 'error', status: 400, message: 'image exceeds 5 MB maximum' });
    const error = await failure(analyst().analyse(input));
    expect(error).toMatchObject({ code: 'UPSTREAM_ERROR', status: 400, retryable: false });
    expect(fake.requests).toHaveLength(1);
  });

  it('times out a slow call, retrying it once before giving up', async () => {
    fake.enqueue({ kind: 'tool', input: GOOD, delayMs: 3000 }, { kind: 'tool', input: GOOD, delayMs: 3000 });
    const error = await failure(analyst({ timeoutMs: 200, maxRetries: 1 }).analyse(input));
    expect(error).toMatchObject({ code: 'TIMEOUT', retryable: true });
    expect(fake.requests).toHaveLength(2);
  });

  it('stops at the total deadline, even while retries remain', async () => {
    fake.enqueue({ kind: 'hang' });
    const started = Date.now();
    const error = await failure(analyst({ totalTimeoutMs: 300 }).analyse(input));
    expect(error.code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('stops when the caller aborts', async () => {
    fake.enqueue({ kind: 'hang' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const error = await failure(analyst().analyse(input, controller.signal));
    expect(error.code).toBe('ABORTED');
  });

  it('ends every call in an answer or a typed error under random failures', async () => {
    fake.setDefault({ kind: 'tool', input: GOOD });
    fake.setChaos({
      failureRate: 0.3,
      statuses: [429, 500, 529],
      retryAfter: '0.01',
      random: seededRandom(7),
    });
    const subject = analyst({ maxRetries: 1 });
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () =>
        subject.analyse(input).then(
          () => 'ok',
          (e: unknown) => (e instanceof AnalystError ? e.code : 'untyped'),
        ),
      ),
    );
    expect(outcomes).not.toContain('untyped');
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(6);
    for (const o of outcomes) expect(['ok', 'RATE_LIMITED', 'UPSTREAM_ERROR']).toContain(o);
  });
});

describe('anthropicConfigFromEnv', () => {
  it('reads the settings, treating empty variables as unset', () => {
    const config = anthropicConfigFromEnv({
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_MODEL: '',
      ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999',
      ANTHROPIC_MAX_RETRIES: '4',
      ANTHROPIC_INPUT_USD_PER_MTOK: '3',
      ANTHROPIC_OUTPUT_USD_PER_MTOK: '15',
    });
    expect(config).toMatchObject({
      apiKey: 'k',
      model: undefined,
      baseURL: 'http://127.0.0.1:9999',
      maxRetries: 4,
      inputUsdPerMTok: 3,
      outputUsdPerMTok: 15,
    });
    expect(new AnthropicAnalyst(config).model).toBe(DEFAULT_ANTHROPIC_MODEL);
  });

  it('requires an API key', () => {
    expect(() => anthropicConfigFromEnv({})).toThrow(/ANTHROPIC_API_KEY/);
  });
});
