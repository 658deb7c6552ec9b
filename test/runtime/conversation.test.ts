// Chat over the cache: transcripts (template or plain), only the missing tokens fed, replies equal a fresh run, bounded memory.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTokenizer, type ChatMessage, type ChatTemplateOptions, type Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { commonPrefix, Conversation, renderTranscript } from '../../src/runtime/conversation.js';
import type { GeneratedPiece } from '../../src/runtime/generate.js';
import type { RunnableModel } from '../../src/runtime/model.js';
import { loadHfAnn, type HfAnnModel } from '../../src/open/hf-ann.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { FIXTURES, GPT2_DIR } from '../helpers.js';
import { bytes, fedRows, spyOnSteps } from './tsp-helpers.js';

async function collect(pieces: AsyncIterable<GeneratedPiece>): Promise<GeneratedPiece[]> {
  const out: GeneratedPiece[] = [];
  for await (const p of pieces) out.push(p);
  return out;
}

describe('renderTranscript', () => {
  it('writes a plain User:/Assistant: transcript when the tokenizer has no chat template', async () => {
    const tok = await loadTokenizer(GPT2_DIR);
    expect(tok.hasChatTemplate).toBe(false);
    const ids = renderTranscript(tok, [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'Bye' }]);
    expect(ids).toEqual(bytes('System: Be brief.\nUser: Hi\nAssistant: Hello\nUser: Bye\nAssistant:'));
  });

  it("uses the tokenizer's chat template when it has one, ending with the assistant's opening", async () => {
    const tok = await loadTokenizer(join(FIXTURES, 'smollm2-135m-instruct-config-tokenizer'));
    const text = tok.decode(renderTranscript(tok, [{ role: 'user', content: 'Hi' }]));
    expect(text).toContain('<|im_start|>user\nHi<|im_end|>\n');
    expect(text.endsWith('<|im_start|>assistant\n')).toBe(true);
  });
});

describe('Conversation on the Shakespeare ANN', () => {
  let model: HfAnnModel;
  beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); });
  afterAll(async () => { await model.release(); });

  it('feeds only what the cache lacks, rewinds what differs, and replies as a fresh run on the whole transcript would', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    const fresh = new TemporalSpikeProcessor(model);
    // ' the' stops replies midway, leaving the start of the stop string in the cache to be rewound.
    const opts = { maxNewTokens: 12, stop: [' the'] };
    const chat = new Conversation(tsp, opts);
    const spy = spyOnSteps(await model.session(true));
    let rewinds = 0;
    try {
      for (const message of ['Hi?', 'Speak.', 'Bye.']) {
        const transcript = renderTranscript(model.tokenizer, [...chat.messages, { role: 'user', content: message }]);
        const held = tsp.conversations().includes('chat') ? tsp.getTokenIds('chat') : [];
        if (commonPrefix(held, transcript) < held.length) rewinds += 1;
        const before = spy.steps.length;
        const reply = await collect(chat.say(message));
        const expected = await collect(fresh.generate(transcript, opts));
        expect(reply.map((p) => p.tokenId)).toEqual(expected.map((p) => p.tokenId));
        expect(reply.map((p) => p.text).join('')).toBe(expected.map((p) => p.text).join(''));
        const fed = fedRows(spy.steps.slice(before, before + 1))[0]!.tokens;
        expect(transcript.slice(-fed.length)).toEqual(fed);
        if (held.length > 0) expect(fed.length).toBeLessThan(transcript.length - 15);
      }
    } finally {
      spy.restore();
    }
    expect(rewinds).toBeGreaterThan(0);
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  });

  it('starts over on reset: the same message then gets the same reply as at first', async () => {
    const tsp = new TemporalSpikeProcessor(model);
    const chat = new Conversation(tsp, { maxNewTokens: 12 });
    const first = await collect(chat.say('Good morrow.'));
    await collect(chat.say('What news?'));
    chat.reset();
    expect(chat.messages).toEqual([]);
    expect(tsp.conversations()).toEqual([]);
    expect((await collect(chat.say('Good morrow.'))).map((p) => p.tokenId)).toEqual(first.map((p) => p.tokenId));
    const opening = bytes('User: Good morrow.\nAssistant:');
    expect(tsp.getTokenIds('chat').slice(0, opening.length)).toEqual(opening);
    expect(tsp.getTokenIds('chat').length).toBe(opening.length + first.length - 1);
  });
});

describe('Conversation with a chat template', () => {
  let model: HfAnnModel;
  beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); });
  afterAll(async () => { await model.release(); });

  it('renders turns with the template and replies as a fresh run on the rendered transcript would', async () => {
    // The byte tokenizer with a ChatML-like template, so the template path runs on a model with weights.
    const chatml = (messages: readonly ChatMessage[], o?: ChatTemplateOptions) =>
      bytes(messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('') + (o?.addGenerationPrompt ? '<|im_start|>assistant\n' : ''));
    const tokenizer: Tokenizer = { ...model.tokenizer, encode: model.tokenizer.encode, decode: model.tokenizer.decode, hasChatTemplate: true, applyChatTemplate: chatml };
    const templated: RunnableModel = { name: 'templated', spec: model.spec, tokenizer, timesteps: null, recipe: null, session: (ann) => model.session(ann), release: async () => {} };
    const tsp = new TemporalSpikeProcessor(templated);
    const fresh = new TemporalSpikeProcessor(templated);
    const chat = new Conversation(tsp, { maxNewTokens: 4 });
    for (const message of ['Hi', 'Who?']) {
      const transcript = chatml([...chat.messages, { role: 'user', content: message }], { addGenerationPrompt: true });
      const reply = await collect(chat.say(message));
      const expected = await collect(fresh.generate(transcript, { maxNewTokens: 4 }));
      expect(reply.map((p) => p.tokenId)).toEqual(expected.map((p) => p.tokenId));
    }
    const text = Buffer.from(tsp.getTokenIds('chat')).toString('utf8');
    expect(text.startsWith('<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')).toBe(true);
    expect(text).toContain('<|im_end|>\n<|im_start|>user\nWho?<|im_end|>\n<|im_start|>assistant\n');
    expect(chat.messages).toHaveLength(4);
  });
});

describe('bounded memory', () => {
  let model: HfAnnModel;
  beforeAll(async () => { model = await loadHfAnn(GPT2_DIR); });
  afterAll(async () => { await model.release(); });

  it("never lets a conversation's cache exceed maxContextLength over 300 turns under 'slide'", async () => {
    const max = 48;
    const tsp = new TemporalSpikeProcessor(model, { maxContextLength: max, overflow: 'slide' });
    const perToken = 2 * model.spec.numLayers * model.spec.numKvHeads * model.spec.headDim;
    let longest = 0;
    for (let turn = 0; turn < 300; turn++) {
      await tsp.forward([bytes(`U${turn % 10}: hi\n`)], { batchIds: ['long'] });
      longest = Math.max(longest, tsp.getTokenIds('long').length);
      for await (const _ of tsp.generate(bytes('A:'), { batchId: 'long', maxNewTokens: 3, eos: null })) longest = Math.max(longest, tsp.getTokenIds('long').length);
      expect(tsp.getPositionIds('long').at(-1)).toBeLessThan(max);
      expect(tsp.cachedFloats()).toBe(tsp.getTokenIds('long').length * perToken);
    }
    expect(longest).toBeLessThanOrEqual(max);
    expect(longest).toBeGreaterThan(max - 10);
  });

  it('keeps a long chat inside the context by dropping its oldest turns', async () => {
    const tsp = new TemporalSpikeProcessor(model, { overflow: 'slide' });
    const chat = new Conversation(tsp, { maxNewTokens: 8 });
    let most = 0;
    for (let turn = 0; turn < 40; turn++) {
      await collect(chat.say(`Line ${turn}`));
      expect(tsp.getTokenIds('chat').length).toBeLessThanOrEqual(tsp.maxContextLength);
      most = Math.max(most, chat.messages.length);
    }
    expect(most).toBeLessThan(20);
  });
});
