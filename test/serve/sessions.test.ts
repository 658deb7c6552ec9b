// The session table alone: LRU order, eviction of idle sessions only, one request per session at a time.
import { describe, expect, it } from 'vitest';
import { SessionTable } from '../../src/serve/sessions.js';

describe('SessionTable', () => {
  it('evicts the least recently used idle session when a new one needs room', () => {
    const forgotten: string[] = [];
    const t = new SessionTable(2, (id) => forgotten.push(id));
    expect(t.acquire('a')).toBe(true); t.release('a');
    expect(t.acquire('b')).toBe(true); t.release('b');
    expect(t.acquire('a')).toBe(true); t.release('a'); // a is now the most recent
    expect(t.acquire('c')).toBe(true); t.release('c');
    expect(forgotten).toEqual(['b']);
    expect(t.ids()).toEqual(['a', 'c']);
    expect(t.evictions).toBe(1);
  });

  it('never evicts a busy session, and refuses a new one when every held session is busy', () => {
    const forgotten: string[] = [];
    const t = new SessionTable(2, (id) => forgotten.push(id));
    expect(t.acquire('a')).toBe(true);
    expect(t.acquire('b')).toBe(true);
    expect(t.acquire('c')).toBe(false);
    expect(forgotten).toEqual([]);
    t.release('a');
    expect(t.acquire('c')).toBe(true);
    expect(forgotten).toEqual(['a']);
    expect(t.size).toBe(2);
  });

  it('lets a session serve one request at a time', () => {
    const t = new SessionTable(4, () => undefined);
    expect(t.acquire('a')).toBe(true);
    expect(t.acquire('a')).toBe(false);
    expect(t.isBusy('a')).toBe(true);
    t.release('a');
    expect(t.acquire('a')).toBe(true);
  });

  it('stays within its limit over many sessions', () => {
    const t = new SessionTable(8, () => undefined);
    for (let i = 0; i < 10_000; i++) { expect(t.acquire(`s${i % 97}`)).toBe(true); t.release(`s${i % 97}`); }
    expect(t.size).toBe(8);
  });
});
