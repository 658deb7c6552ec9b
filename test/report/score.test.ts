// Per-position scoring (NLL, top-1 agreement, KL(ANN ‖ SNN)) against a plain float64 reference written here, and the
// worker pool against scoring in this thread: same figures bit for bit, from memory and from a logits file.
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScorePool, scorePositions, type ScoreTask } from '../../src/report/score.js';
import { tempDir } from '../helpers.js';

const V = 1031, ROWS = 37;

/** Seeded logits: a few peaked rows, the rest spread (so top tokens both agree and differ). */
function logits(seed: number): Float32Array {
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: ROWS * V }, (_, i) => (next() - 0.5) * 6 + (i % V === (Math.floor(i / V) * 13) % V ? 5 : 0));
}

/** log p(v) of row j, by the textbook log-sum-exp. */
function logProbs(x: Float32Array, j: number): number[] {
  const row = Array.from(x.subarray(j * V, (j + 1) * V), Number);
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
  return row.map((v) => v - lse);
}

const argmax = (p: number[]) => p.reduce((best, v, i) => (v > p[best]! ? i : best), 0);

describe('scorePositions', () => {
  const ann = logits(1), snnA = logits(2), snnB = Float32Array.from(ann, (v, i) => v + (i % 7 === 0 ? 0.3 : 0));
  const targets = Int32Array.from({ length: ROWS }, (_, j) => (j === ROWS - 1 ? -1 : (j * 101) % V));

  it('gives each position the reference log-probabilities, agreement and KL term; positions without a target stay 0', () => {
    const s = scorePositions({ vocab: V, targets, ann, snn: [snnA, snnB] });
    let agreements = 0;
    for (let j = 0; j < ROWS - 1; j++) {
      const pa = logProbs(ann, j);
      expect(s.annLogp[j]).toBeCloseTo(pa[targets[j]!]!, 12);
      [snnA, snnB].forEach((x, i) => {
        const ps = logProbs(x, j);
        const kl = pa.reduce((a, lp, v) => a + Math.exp(lp) * (lp - ps[v]!), 0);
        expect(s.snnLogp[i * ROWS + j]).toBeCloseTo(ps[targets[j]!]!, 12);
        expect(s.kl[i * ROWS + j]).toBeCloseTo(kl, 12);
        expect(s.agree[i * ROWS + j]).toBe(argmax(pa) === argmax(ps) ? 1 : 0);
        agreements += s.agree[i * ROWS + j]!;
      });
    }
    expect(agreements).toBeGreaterThan(0);
    expect(agreements).toBeLessThan(2 * (ROWS - 1));
    expect([s.annLogp[ROWS - 1], s.kl[ROWS - 1], s.kl[2 * ROWS - 1]]).toEqual([0, 0, 0]);
  });

  it('the pool (2 threads, parts of the chunk) gives the figures of one thread bit for bit, rows in memory or in a file', async () => {
    const task: ScoreTask = { vocab: V, targets, ann, snn: [snnA, snnB] };
    const alone = scorePositions(task);
    const file = join(tempDir('snn-score-'), 'ann.f32');
    const fd = openSync(file, 'w+');
    try {
      writeSync(fd, new Uint8Array(V * 4)); // one row before: the rows start at a byte position
      writeSync(fd, new Uint8Array(ann.buffer));
      const pool = new ScorePool(2);
      expect(pool.threads, 'the built worker module (npm run build) scores on 2 threads').toBe(2);
      try {
        for (const from of [task, { ...task, ann: { fd, position: V * 4 } }]) {
          const pooled = await pool.score(from);
          for (const k of ['annLogp', 'snnLogp', 'agree', 'kl'] as const) expect(Buffer.from(pooled[k].buffer).equals(Buffer.from(alone[k].buffer)), k).toBe(true);
        }
      } finally {
        await pool.close();
      }
    } finally {
      closeSync(fd);
    }
  });

  it('a logits file shorter than the rows asked for is an error, not zeros', () => {
    const file = join(tempDir('snn-score-'), 'short.f32');
    const fd = openSync(file, 'w+');
    try {
      writeSync(fd, new Uint8Array(V * 4 * 2));
      expect(() => scorePositions({ vocab: V, targets, ann: { fd, position: 0 }, snn: [] })).toThrow(/ended at byte/);
    } finally {
      closeSync(fd);
    }
  });
});
