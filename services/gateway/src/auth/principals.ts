import type { Plan, Role } from '@chartwright/contracts';

/** Who a credential stands for: what authentication and `GET /v1/user` need. */
export interface Principal {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  plan: Plan;
  createdAt: Date;
}

export interface CachedPrincipal {
  principal: Principal;
  /** For an API key: its id (revocation events name it) and when its use was last written. */
  keyId?: string;
  lastUsedAt?: number;
  expiresAt: number;
}

/**
 * Callers resolved recently, so an authenticated request needs no database read: a bounded LRU
 * (a `Map` in use order) with a TTL as a safety net. Entries are dropped by the events that change
 * them (plan changed, key revoked) on every replica, and all at once when the shared revocation
 * epoch moves (see `rate-limit.ts`): a revocation on one replica holds on the others at once.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, CachedPrincipal>();
  /** The revocation epoch the entries are valid for (Redis `<prefix>auth:epoch`). */
  epoch = 0;
  /**
   * Moves on every invalidation: a read that started before one must not cache what it read
   * (it may be what was just revoked).
   */
  generation = 0;

  constructor(
    private readonly max: number,
    private readonly ttlMs: number,
  ) {}

  static userKey = (userId: string) => `u:${userId}`;
  static apiKey = (keyHash: string) => `k:${keyHash}`;

  get(key: string, now = Date.now()): Omit<CachedPrincipal, 'expiresAt'> | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.expiresAt <= now) {
      this.entries.delete(key);
      return undefined;
    }
    // Most recently used goes last; the first is the one evicted.
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  /** Caches `entry`, unless something was invalidated since `generation` was read. */
  set(key: string, entry: Omit<CachedPrincipal, 'expiresAt'>, generation: number, now = Date.now()): void {
    if (this.max <= 0 || generation !== this.generation) return;
    this.entries.delete(key);
    // The same object: what the caller changes later (lastUsedAt) stays cached.
    const cached = entry as CachedPrincipal;
    cached.expiresAt = now + this.ttlMs;
    this.entries.set(key, cached);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  /** Everything cached for this user (their token and their keys). Rare: a linear pass. */
  dropUser(userId: string): void {
    this.generation++;
    for (const [k, e] of this.entries) if (e.principal.id === userId) this.entries.delete(k);
  }

  dropKey(keyId: string): void {
    this.generation++;
    for (const [k, e] of this.entries) if (e.keyId === keyId) this.entries.delete(k);
  }

  /** A newer epoch seen: something was revoked somewhere; forget everything. */
  advance(epoch: number): boolean {
    if (epoch <= this.epoch) return false;
    this.epoch = epoch;
    this.generation++;
    this.entries.clear();
    return true;
  }

  /** Invalidations may have been missed (the event watch had a gap): forget everything. */
  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
