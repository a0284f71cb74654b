import { ServiceError } from '@chartwright/kit';
import { MarketDataError } from '@chartwright/market';

/** A market-data failure as the error the caller of a generation sees. */
export function marketError(err: unknown): unknown {
  if (!(err instanceof MarketDataError)) return err;
  switch (err.code) {
    case 'UNKNOWN_SYMBOL':
      return new ServiceError('VALIDATION_ERROR', err.message, [{ field: 'symbol', message: err.message }]);
    case 'UNSUPPORTED_INTERVAL':
      return new ServiceError('VALIDATION_ERROR', err.message, [{ field: 'interval', message: err.message }]);
    case 'INVALID_REQUEST':
      return new ServiceError(
        'VALIDATION_ERROR',
        err.message,
        err.field ? [{ field: err.field, message: err.message }] : undefined,
      );
    case 'RATE_LIMITED':
      return new ServiceError(
        'RATE_LIMIT_EXCEEDED',
        `The market data provider is rate limiting: ${err.message}`,
        err.retryAfterMs ? { retryAfterSeconds: Math.ceil(err.retryAfterMs / 1000) } : undefined,
      );
    case 'TIMEOUT':
      return new ServiceError('TIMEOUT', `Market data: ${err.message}`);
    default:
      return new ServiceError('UPSTREAM_ERROR', `Market data: ${err.message}`);
  }
}
