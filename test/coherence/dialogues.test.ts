// Dialogue input for the suite: JSONL validation, transcript rendering, whole-word truncation, the context budget; option checks.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIALOGUES, formatDialogue, formatTurn, readDialogues } from '../../src/coherence/dialogues.js';
import { runCoherenceSuite } from '../../src/coherence/index.js';
import { SnnError } from '../../src/errors/index.js';
import { loadTokenizer, type Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { GPT2_DIR, tempDir } from '../helpers.js';

let tok: Tokenizer;
beforeAll(async () => { tok = await loadTokenizer(GPT2_DIR); });

const text = (ids: readonly number[]) => Buffer.from(ids).toString('utf8');

function thrown(f: () => unknown): SnnError {
  try { f(); } catch (e) { if (e instanceof SnnError) return e; throw e; }
  throw new Error('expected an SnnError');
}

describe('dialogues', () => {
  it('reads the committed Topical-Chat subset by default: 25 dialogues, each with turns', () => {
    const { records } = readDialogues(DEFAULT_DIALOGUES);
    expect(records).toHaveLength(25);
    expect(records.every((r) => r.turns.length >= 2 && r.conversation_id.length > 0)).toBe(true);
  });

  it('renders turns as "A: text\\n" lines, speakers lettered in order of appearance, the label apart from the scored body', () => {
    const d = formatDialogue(tok, { conversation_id: 'x', turns: [{ speaker: 'agent_2', text: 'Hi  there' }, { speaker: 'agent_1', text: 'Hello.' }, { speaker: 'agent_2', text: 'Bye' }] }, { maxTurnTokens: 32, budget: 128 });
    expect(d.turns.map((t) => text(t.tokens))).toEqual(['A: Hi there\n', 'B: Hello.\n', 'A: Bye\n']);
    expect(d.turns.map((t) => text(t.tokens.slice(0, t.labelLength)))).toEqual(['A:', 'B:', 'A:']);
    expect(d.turns.some((t) => t.truncated)).toBe(false);
  });

  it('cuts a long turn at a word boundary within maxTurnTokens, keeping the newline; a lone long word is cut by tokens', () => {
    const t = formatTurn(tok, 'A', 'Did you know that the University of Iowa locker room is painted pink?', 25);
    expect(text(t.tokens)).toBe('A: Did you know that the\n');
    expect(t.truncated).toBe(true);
    expect(t.tokens.length).toBe(25); // "A:" 2 + " Did you know that the" 22 + newline 1
    expect(text(formatTurn(tok, 'B', 'Supercalifragilisticexpialidocious', 12).tokens)).toBe('B: Supercal\n');
    expect(thrown(() => formatTurn(tok, 'A', 'x', 3)).code).toBe('OPTION_INVALID');
  });

  it('keeps the leading turns that fit the budget', () => {
    const record = { conversation_id: 'x', turns: Array.from({ length: 10 }, (_, i) => ({ speaker: i % 2 ? 'b' : 'a', text: 'one two three four five' })) };
    const d = formatDialogue(tok, record, { maxTurnTokens: 32, budget: 100 });
    const sizes = d.turns.map((t) => t.tokens.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100);
    expect(sizes.reduce((a, b) => a + b, 0) + sizes[0]!).toBeGreaterThan(100);
  });

  it('rejects malformed files with TEXT_INVALID naming the line and the field', () => {
    const dir = tempDir('snn-dialogues-');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"conversation_id":"a","turns":[{"speaker":"x","text":"hi"}]}\n{"conversation_id":"b","turns":[{"speaker":"x"}]}\n');
    const e = thrown(() => readDialogues(bad));
    expect(e.code).toBe('TEXT_INVALID');
    expect(e.at).toBe(`${bad}:2`);
    expect(e.message).toMatch(/turns\.0\.text/);
    writeFileSync(bad, 'not json\n');
    expect(thrown(() => readDialogues(bad)).message).toMatch(/line 1 is not JSON/);
    writeFileSync(bad, '\n');
    expect(thrown(() => readDialogues(bad)).message).toMatch(/holds no dialogue/);
    expect(thrown(() => readDialogues(join(dir, 'missing.jsonl'))).code).toBe('TEXT_INVALID');
  });
});

describe('runCoherenceSuite options', () => {
  it('rejects invalid options up front, and an ANN-only model unless ann: true', async () => {
    const ann = await loadHfAnn(GPT2_DIR);
    const code = async (p: Promise<unknown>) => { try { await p; } catch (e) { return e instanceof SnnError ? `${e.code} ${e.at ?? ''}` : String(e); } return 'resolved'; };
    expect(await code(runCoherenceSuite(ann, { maxContextLength: 129 }))).toBe('OPTION_INVALID maxContextLength');
    expect(await code(runCoherenceSuite(ann, { maxTurnTokens: 100 }))).toBe('OPTION_INVALID maxTurnTokens');
    expect(await code(runCoherenceSuite(ann, { count: 0 }))).toBe('OPTION_INVALID count');
    expect(await code(runCoherenceSuite(ann, { tolerance: -1 }))).toBe('OPTION_INVALID tolerance');
    expect(await code(runCoherenceSuite(ann, { ann: false }))).toBe('OPTION_INVALID ann');
    expect(await code(runCoherenceSuite(ann, { dialogues: [{ conversation_id: 'x', turns: [{ speaker: 'a', text: 'only one turn' }] }] }))).toBe('TEXT_INVALID given records');
    // An ANN-only model runs as the network under test, without an SNN/ANN ratio.
    const r = await runCoherenceSuite(ann, { count: 2, recall: false });
    expect(r).toMatchObject({ passed: true, tested: 'ann', timesteps: null });
    expect(r.checks.find((c) => c.check === 'multi-turn-coherence')!.measured['mean_snn_ann_ratio']).toBeNull();
    await ann.release();
  });
});
