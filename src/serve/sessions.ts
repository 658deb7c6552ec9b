// The named sessions a server holds: least recently used first, at most `maxSessions`, each at most one request at a time.

/**
 * Tracks which conversations of the processor are named sessions, in LRU order, and which are busy.
 * Memory stays bounded: a new session beyond the limit evicts the least recently used idle one.
 */
export class SessionTable {
  /** Insertion order of a Map is its LRU order: touching re-inserts at the end. */
  private readonly lru = new Map<string, true>();
  private readonly busy = new Set<string>();
  evictions = 0;

  constructor(readonly maxSessions: number, private readonly forget: (conversationId: string) => void) {}

  get size(): number { return this.lru.size; }

  isBusy(conversationId: string): boolean { return this.busy.has(conversationId); }

  /**
   * Marks a session busy and most recently used, evicting the LRU idle session when a new one needs
   * room. Returns false (nothing changed) when the session is busy or every held session is busy.
   */
  acquire(conversationId: string): boolean {
    if (this.busy.has(conversationId)) return false;
    if (!this.lru.has(conversationId) && this.lru.size >= this.maxSessions) {
      let victim: string | undefined;
      for (const id of this.lru.keys()) if (!this.busy.has(id)) { victim = id; break; }
      if (victim === undefined) return false;
      this.lru.delete(victim);
      this.forget(victim);
      this.evictions += 1;
    }
    this.lru.delete(conversationId);
    this.lru.set(conversationId, true);
    this.busy.add(conversationId);
    return true;
  }

  release(conversationId: string): void {
    this.busy.delete(conversationId);
  }

  ids(): string[] { return [...this.lru.keys()]; }
}
