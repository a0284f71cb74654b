import type { paths } from './generated/api.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Op<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

/** The JSON body an operation takes. */
export type BodyOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

/** The query parameters an operation takes. */
export type QueryOf<P extends keyof paths, M extends Method> =
  Op<P, M> extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

/** The `data` of an operation's success envelope, for status `S`. */
export type DataOf<P extends keyof paths, M extends Method, S extends number = 200> =
  Op<P, M> extends { responses: { [K in S]: { content: { 'application/json': { data: infer D } } } } }
    ? D
    : never;

export type GenerateChartRequest = BodyOf<'/v1/charts/generate', 'post'>;
export type GeneratedChart = DataOf<'/v1/charts/generate', 'post', 201>;
export type ChartListQuery = QueryOf<'/v1/charts', 'get'>;
export type ChartSummary = DataOf<'/v1/charts', 'get'>['charts'][number];
export type ChartDetail = DataOf<'/v1/charts/{id}', 'get'>;
export type AnalyzeRequest = NonNullable<BodyOf<'/v1/charts/{id}/analyze', 'post'>>;
export type AnalyzeResult = DataOf<'/v1/charts/{id}/analyze', 'post', 200>;
export type AnalysisAccepted = DataOf<'/v1/charts/{id}/analyze', 'post', 202>;
export type AnalysisListQuery = QueryOf<'/v1/analyses', 'get'>;
export type AnalysisSummary = DataOf<'/v1/analyses', 'get'>['analyses'][number];
export type Analysis = DataOf<'/v1/analyses/{id}', 'get'>['analysis'];
export type AnalysisStatus = Analysis['status'];
export type SignupRequest = BodyOf<'/v1/auth/signup', 'post'>;
export type Session = DataOf<'/v1/auth/signup', 'post', 201>;
export type LoginRequest = BodyOf<'/v1/auth/login', 'post'>;
export type ApiKeySummary = DataOf<'/v1/api-keys', 'get'>['apiKeys'][number];
export type CreatedApiKey = DataOf<'/v1/api-keys', 'post', 201>['apiKey'];
export type Webhook = DataOf<'/v1/webhooks', 'get'>['webhooks'][number];
export type CreateWebhookRequest = BodyOf<'/v1/webhooks', 'post'>;
export type UpdateWebhookRequest = BodyOf<'/v1/webhooks/{id}', 'patch'>;
export type CreatedWebhook = DataOf<'/v1/webhooks', 'post', 201>;
export type WebhookDelivery = DataOf<'/v1/webhooks/{id}/deliveries', 'get'>['deliveries'][number];
export type DeliveryListQuery = QueryOf<'/v1/webhooks/{id}/deliveries', 'get'>;
export type Quota = DataOf<'/v1/user/quota', 'get'>;
export type User = DataOf<'/v1/user', 'get'>;
export type Template = DataOf<'/v1/templates', 'get'>['templates'][number];
export type MultiTimeframeRequest = BodyOf<'/v1/analyses/multi-timeframe', 'post'>;
export type MultiTimeframeAccepted = DataOf<'/v1/analyses/multi-timeframe', 'post', 202>;
export type MultiTimeframeRun = DataOf<'/v1/analyses/multi-timeframe/{id}', 'get'>;
export type MultiTimeframeListQuery = QueryOf<'/v1/analyses/multi-timeframe', 'get'>;
export type CreateBacktestRequest = BodyOf<'/v1/backtests', 'post'>;
export type Backtest = DataOf<'/v1/backtests/{id}', 'get'>;
export type BacktestStatus = Backtest['status'];
export type BacktestTrade = Backtest['trades'][number];
export type BacktestListQuery = QueryOf<'/v1/backtests', 'get'>;
export type BacktestSummary = DataOf<'/v1/backtests', 'get'>['backtests'][number];

/** A backtest's progress, as its event stream sends it. */
export interface BacktestProgress {
  backtestId: string;
  status: BacktestStatus;
  done: number;
  total: number;
  at: string;
}

/** One step of an analysis, as its event stream sends it. */
export interface AnalysisProgress {
  analysisId: string;
  status: 'queued' | 'downloading' | 'analysing' | 'completed' | 'failed';
  at?: string;
  error?: { code: string; reason: string } | null;
  [key: string]: unknown;
}

/** A downloaded file: an image, an export. */
export interface Download {
  bytes: Uint8Array;
  contentType: string;
  /** From `Content-Disposition`, when the server names the file. */
  filename?: string;
}

/** A page of a list, as every paginated route answers. */
export interface Page<T> {
  items: T[];
  pagination: { total: number; limit: number; offset: number; hasMore: boolean };
}
