import { readFile } from 'node:fs/promises';
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import { AnalystOutput } from '@chartwright/contracts';
import { z } from 'zod';
import { AnalystError } from './errors.js';
import { ANALYSIS_TOOL_NAME, buildUserText, SYSTEM_PROMPT } from './prompt.js';
import type { Analyst, AnalystAnswer, AnalystInput } from './types.js';

type MessageParam = Anthropic.Messages.MessageParam;
type Message = Anthropic.Messages.Message;
type ImageMediaType = Anthropic.Messages.Base64ImageSource['media_type'];

export const DEFAULT_ANTHROPIC_MODEL = 'claude-sonnet-5-5';

export interface AnthropicAnalystConfig {
  apiKey: string;
  /** Default {@link DEFAULT_ANTHROPIC_MODEL}. */
  model?: string | undefined;
  /** API root without `/v1` (default: the SDK's, api.anthropic.com). */
  baseURL?: string | undefined;
  /** Default 4096. */
  maxTokens?: number | undefined;
  /** One HTTP attempt (default 60 s). */
  timeoutMs?: number | undefined;
  /** One whole analysis: every attempt, retry wait and the repair call (default 180 s). */
  totalTimeoutMs?: number | undefined;
  /** Retries of one call on 408, 409, 429, 5xx, 529 and connection errors, by the SDK (default 3). */
  maxRetries?: number | undefined;
  /** USD per million input tokens; with the output price, enables `costUsd`. */
  inputUsdPerMTok?: number | undefined;
  /** USD per million output tokens. */
  outputUsdPerMTok?: number | undefined;
  /** Largest image sent (default 5 MiB, the API's per-image limit). */
  maxImageBytes?: number | undefined;
}

const optionalNumber = z.coerce.number().positive().optional();
const EnvConfig = z.object({
  ANTHROPIC_API_KEY: z.string().min(1, 'ANTHROPIC_API_KEY is required for the Anthropic analyst'),
  ANTHROPIC_MODEL: z.string().min(1).optional(),
  ANTHROPIC_BASE_URL: z.url().optional(),
  ANTHROPIC_MAX_TOKENS: z.coerce.number().int().positive().optional(),
  ANTHROPIC_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  ANTHROPIC_TOTAL_TIMEOUT_MS: z.coerce.number().int().positive().optional(),
  ANTHROPIC_MAX_RETRIES: z.coerce.number().int().min(0).max(10).optional(),
  ANTHROPIC_INPUT_USD_PER_MTOK: optionalNumber,
  ANTHROPIC_OUTPUT_USD_PER_MTOK: optionalNumber,
});

/** Reads the analyst's settings from the environment (empty variables count as unset). */
export function anthropicConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AnthropicAnalystConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const e = EnvConfig.parse(present);
  return {
    apiKey: e.ANTHROPIC_API_KEY,
    model: e.ANTHROPIC_MODEL,
    baseURL: e.ANTHROPIC_BASE_URL,
    maxTokens: e.ANTHROPIC_MAX_TOKENS,
    timeoutMs: e.ANTHROPIC_TIMEOUT_MS,
    totalTimeoutMs: e.ANTHROPIC_TOTAL_TIMEOUT_MS,
    maxRetries: e.ANTHROPIC_MAX_RETRIES,
    inputUsdPerMTok: e.ANTHROPIC_INPUT_USD_PER_MTOK,
    outputUsdPerMTok: e.ANTHROPIC_OUTPUT_USD_PER_MTOK,
  };
}

function analysisTool(): Anthropic.Messages.Tool {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(AnalystOutput) as Record<string, unknown>;
  return {
    name: ANALYSIS_TOOL_NAME,
    description: 'Record the structured analysis of the chart. Call exactly once.',
    input_schema: schema as Anthropic.Messages.Tool.InputSchema,
  };
}

/** The media type the bytes really are, or undefined when not one the model reads. */
function sniffImageType(bytes: Buffer): ImageMediaType | undefined {
  if (bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])))
    return 'image/png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.subarray(0, 4).toString('latin1') === 'GIF8') return 'image/gif';
  if (
    bytes.subarray(0, 4).toString('latin1') === 'RIFF' &&
    bytes.subarray(8, 12).toString('latin1') === 'WEBP'
  ) {
    return 'image/webp';
  }
  return undefined;
}

function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number.parseFloat(headers?.get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers?.get('retry-after');
  if (!value) return undefined;
  const seconds = Number.parseFloat(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

type Parsed = { ok: true; output: AnalystOutput } | { ok: false; problem: string };

function parseAnswer(message: Message): Parsed {
  const call = message.content.find(
    (b): b is Anthropic.Messages.ToolUseBlock => b.type === 'tool_use' && b.name === ANALYSIS_TOOL_NAME,
  );
  if (!call) {
    return {
      ok: false,
      problem: `the answer has no ${ANALYSIS_TOOL_NAME} call (stop_reason ${message.stop_reason})`,
    };
  }
  const parsed = AnalystOutput.safeParse(call.input);
  if (!parsed.success) return { ok: false, problem: z.prettifyError(parsed.error) };
  return { ok: true, output: parsed.data };
}

/** The turns that show the model its invalid answer and ask for a corrected one. */
function repairTurns(answer: Message, problem: string): MessageParam[] {
  const blocks: Anthropic.Messages.ContentBlockParam[] = [];
  let toolUseId: string | undefined;
  for (const block of answer.content) {
    if (block.type === 'text' && block.text) blocks.push({ type: 'text', text: block.text });
    if (block.type === 'tool_use' && block.name === ANALYSIS_TOOL_NAME && !toolUseId) {
      toolUseId = block.id;
      blocks.push({ type: 'tool_use', id: block.id, name: block.name, input: block.input });
    }
  }
  const instruction = `Call ${ANALYSIS_TOOL_NAME} again with input that satisfies its schema and the rules.`;
  if (toolUseId) {
    return [
      { role: 'assistant', content: blocks },
      {
        role: 'user',
        content: [
          {
            type: 'tool_result',
            tool_use_id: toolUseId,
            is_error: true,
            content: `The input was rejected:\n${problem}\n${instruction}`,
          },
        ],
      },
    ];
  }
  if (blocks.length > 0) {
    return [
      { role: 'assistant', content: blocks },
      { role: 'user', content: [{ type: 'text', text: `${problem}. ${instruction}` }] },
    ];
  }
  return [];
}

interface Usage {
  input: number;
  output: number;
}

function addUsage(total: Usage, message: Message): void {
  const u = message.usage;
  total.input += u.input_tokens + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
  total.output += u.output_tokens;
}

export class AnthropicAnalyst implements Analyst {
  readonly model: string;
  private readonly client: Anthropic;
  private readonly maxTokens: number;
  private readonly totalTimeoutMs: number;
  private readonly maxImageBytes: number;
  private readonly prices: { input: number; output: number } | undefined;
  private readonly tool = analysisTool();

  constructor(config: AnthropicAnalystConfig) {
    this.model = config.model ?? DEFAULT_ANTHROPIC_MODEL;
    this.maxTokens = config.maxTokens ?? 4096;
    this.totalTimeoutMs = config.totalTimeoutMs ?? 180_000;
    this.maxImageBytes = config.maxImageBytes ?? 5 * 1024 * 1024;
    this.prices =
      config.inputUsdPerMTok !== undefined && config.outputUsdPerMTok !== undefined
        ? { input: config.inputUsdPerMTok, output: config.outputUsdPerMTok }
        : undefined;
    // The SDK retries 408/409/429/5xx (529 included) and connection errors with exponential
    // backoff and jitter, and waits what `retry-after` / `retry-after-ms` ask for.
    this.client = new Anthropic({
      apiKey: config.apiKey,
      baseURL: config.baseURL ?? null,
      maxRetries: config.maxRetries ?? 3,
      timeout: config.timeoutMs ?? 60_000,
    });
  }

  async analyse(input: AnalystInput, signal?: AbortSignal): Promise<AnalystAnswer> {
    const image = await this.readImage(input);
    const deadline = AbortSignal.timeout(this.totalTimeoutMs);
    const combined = signal ? AbortSignal.any([deadline, signal]) : deadline;
    const usage: Usage = { input: 0, output: 0 };
    const messages: MessageParam[] = [
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: image.mediaType, data: image.data } },
          { type: 'text', text: buildUserText(input) },
        ],
      },
    ];

    try {
      const first = await this.call(messages, combined);
      addUsage(usage, first);
      const parsed = parseAnswer(first);
      if (parsed.ok) return this.answer(parsed.output, first.model, usage, false);

      const second = await this.call([...messages, ...repairTurns(first, parsed.problem)], combined);
      addUsage(usage, second);
      const repaired = parseAnswer(second);
      if (repaired.ok) return this.answer(repaired.output, second.model, usage, true);
      throw new AnalystError(
        'INVALID_OUTPUT',
        `the model's answer did not match the analysis schema, also after one repair attempt:\n${repaired.problem}`,
        { retryable: false },
      );
    } catch (error) {
      const failure = toAnalystError(error, { deadline, signal, totalTimeoutMs: this.totalTimeoutMs });
      const spent = usage.input + usage.output;
      if (spent > 0) failure.tokensUsed ??= spent;
      throw failure;
    }
  }

  private call(messages: MessageParam[], signal: AbortSignal): Promise<Message> {
    return this.client.messages.create(
      {
        model: this.model,
        max_tokens: this.maxTokens,
        system: SYSTEM_PROMPT,
        messages,
        tools: [this.tool],
        tool_choice: { type: 'tool', name: ANALYSIS_TOOL_NAME, disable_parallel_tool_use: true },
      },
      { signal },
    );
  }

  private answer(output: AnalystOutput, model: string, usage: Usage, repaired: boolean): AnalystAnswer {
    const answer: AnalystAnswer = { output, model, tokensUsed: usage.input + usage.output };
    if (this.prices) {
      const cost = (usage.input * this.prices.input + usage.output * this.prices.output) / 1_000_000;
      answer.costUsd = Math.round(cost * 1e6) / 1e6;
    }
    if (repaired) answer.repaired = true;
    return answer;
  }

  private async readImage(input: AnalystInput): Promise<{ mediaType: ImageMediaType; data: string }> {
    let bytes: Buffer;
    try {
      bytes = await readFile(input.imagePath);
    } catch (cause) {
      throw new AnalystError('INVALID_INPUT', `cannot read the chart image ${input.imagePath}`, { cause });
    }
    if (bytes.length > this.maxImageBytes) {
      throw new AnalystError(
        'INVALID_INPUT',
        `the chart image has ${bytes.length} bytes, more than the ${this.maxImageBytes} the model accepts`,
      );
    }
    // The API rejects an image whose declared type differs from its bytes; trust the bytes.
    const mediaType = sniffImageType(bytes);
    if (!mediaType) {
      throw new AnalystError(
        'INVALID_INPUT',
        `the chart image (declared ${input.mediaType}) is not PNG, JPEG, GIF or WebP; rasterise SVG charts first`,
      );
    }
    return { mediaType, data: bytes.toString('base64') };
  }
}

function toAnalystError(
  error: unknown,
  ctx: { deadline: AbortSignal; signal: AbortSignal | undefined; totalTimeoutMs: number },
): AnalystError {
  if (error instanceof AnalystError) return error;
  if (error instanceof APIUserAbortError || ctx.deadline.aborted || ctx.signal?.aborted) {
    if (ctx.signal?.aborted) return new AnalystError('ABORTED', 'the analysis was aborted', { cause: error });
    return new AnalystError('TIMEOUT', `the analysis did not finish within ${ctx.totalTimeoutMs} ms`, {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof APIConnectionTimeoutError) {
    return new AnalystError('TIMEOUT', 'the model API did not answer in time', {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof AuthenticationError || error instanceof PermissionDeniedError) {
    return new AnalystError('AUTH', `the model API refused the credentials: ${error.message}`, {
      status: error.status,
      cause: error,
    });
  }
  if (error instanceof RateLimitError) {
    const wait = retryAfterMs(error.headers);
    return new AnalystError('RATE_LIMITED', `the model API is rate limiting: ${error.message}`, {
      retryable: true,
      status: 429,
      cause: error,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    });
  }
  if (error instanceof APIConnectionError) {
    return new AnalystError('UPSTREAM_ERROR', `cannot reach the model API: ${error.message}`, {
      retryable: true,
      cause: error,
    });
  }
  if (error instanceof APIError && typeof error.status === 'number') {
    const status = error.status;
    const retryable = status >= 500 || status === 408 || status === 409;
    const wait = retryAfterMs(error.headers);
    return new AnalystError('UPSTREAM_ERROR', `the model API failed: ${error.message}`, {
      retryable,
      status,
      cause: error,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
    });
  }
  return new AnalystError(
    'UPSTREAM_ERROR',
    `the analysis failed: ${(error as Error)?.message ?? String(error)}`,
    {
      cause: error,
    },
  );
}
