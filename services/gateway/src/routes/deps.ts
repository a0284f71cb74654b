import type { preHandlerAsyncHookHandler } from 'fastify';

/** What the app builder hands route modules beyond the context. */
export interface RouteDeps {
  /** The per-plan limit for chart generation and analysis (design document: free 5/min, ...). */
  heavyRateLimit: preHandlerAsyncHookHandler;
}
