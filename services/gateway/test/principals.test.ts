import { describe, expect, it } from 'vitest';
import { PrincipalCache } from '../src/auth/principals.js';

const principal = (id: string) => ({
  id,
  email: `${id}@example.com`,
  name: null,
  role: 'user' as const,
  plan: 'free' as const,
  createdAt: new Date(0),
});

describe('principal cache', () => {
  it('keeps at most max entries, evicting the least recently used, and forgets expired ones', () => {
    const cache = new PrincipalCache(2, 1_000);
    cache.set('a', { principal: principal('a') }, cache.generation, 0);
    cache.set('b', { principal: principal('b') }, cache.generation, 0);
    expect(cache.get('a', 10)).toBeDefined(); // a is now the most recently used
    cache.set('c', { principal: principal('c') }, cache.generation, 10);
    expect(cache.get('b', 20)).toBeUndefined();
    expect(cache.get('a', 20)?.principal.id).toBe('a');
    expect(cache.get('c', 20)?.principal.id).toBe('c');
    expect(cache.get('c', 1_010)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('drops a user with their keys, a key by id, and everything on a newer epoch', () => {
    const cache = new PrincipalCache(10, 60_000);
    cache.set('u:a', { principal: principal('a') }, cache.generation);
    cache.set('k:1', { principal: principal('a'), keyId: 'key-1' }, cache.generation);
    cache.set('k:2', { principal: principal('b'), keyId: 'key-2' }, cache.generation);
    cache.dropKey('key-2');
    expect(cache.get('k:2')).toBeUndefined();
    expect(cache.get('k:1')).toBeDefined();
    cache.dropUser('a');
    expect(cache.size).toBe(0);
    cache.set('u:b', { principal: principal('b') }, cache.generation);
    expect(cache.advance(0)).toBe(false);
    expect(cache.advance(3)).toBe(true);
    expect(cache.size).toBe(0);
    expect(cache.advance(3)).toBe(false);
  });

  it('does not cache what was read before an invalidation (it may be what was revoked)', () => {
    const cache = new PrincipalCache(10, 60_000);
    const before = cache.generation;
    cache.dropKey('key-1'); // a revocation lands while the read was in flight
    cache.set('k:1', { principal: principal('a'), keyId: 'key-1' }, before);
    expect(cache.get('k:1')).toBeUndefined();
  });
});
