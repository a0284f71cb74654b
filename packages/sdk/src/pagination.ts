import type { Page } from './types.js';

/**
 * Every item of a `limit`/`offset` list, fetching the next page only when the loop gets there.
 * Stop early with `break`; `offset` in the query starts later.
 */
export async function* paginate<T, Q extends { limit?: number; offset?: number }>(
  query: Q,
  fetchPage: (query: Q) => Promise<Page<T>>,
): AsyncGenerator<T, void, undefined> {
  let offset = query.offset ?? 0;
  for (;;) {
    const page = await fetchPage({ ...query, offset });
    yield* page.items;
    if (!page.pagination.hasMore || page.items.length === 0) return;
    offset += page.items.length;
  }
}
