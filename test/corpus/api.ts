// The library calls a corpus case names (manifest `api.fn`): each does what the matching CLI command does.
import { retarget } from '../../src/calibrate/timesteps.js';
import { readDialogues } from '../../src/coherence/dialogues.js';
import { convert, type ConvertOptions } from '../../src/convert.js';
import { Conversation } from '../../src/runtime/conversation.js';
import { evaluate, type EvaluateOptions } from '../../src/runtime/evaluate.js';
import { loadBundle, type LoadBundleOptions } from '../../src/runtime/model.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { promptText } from '../../src/runtime/prompt-text.js';
import { TemporalSpikeProcessor, type OverflowPolicy } from '../../src/runtime/tsp.js';
import type { GenerateOptions } from '../../src/runtime/generate.js';
import { readTextFile } from '../../src/util/read-text-file.js';

type Prompt = { readonly text: string } | { readonly file: string };

async function generate(bundlePath: string, prompt: Prompt, opts: GenerateOptions & { overflow?: OverflowPolicy } = {}): Promise<void> {
  const text = 'file' in prompt ? readTextFile(prompt.file, { what: 'prompt file' }) : prompt.text;
  const bundle = await loadBundle(bundlePath);
  try {
    const { overflow = 'error', ...sampling } = opts;
    const tsp = new TemporalSpikeProcessor(bundle, { overflow });
    const ids = bundle.tokenizer.encode(promptText(bundle.tokenizer, text, { maxTokens: tsp.maxContextLength, overflow }));
    for await (const piece of tsp.generate(ids, { maxNewTokens: 2, ...sampling })) void piece;
  } finally {
    await bundle.release();
  }
}

export const API: Readonly<Record<string, (...args: never[]) => Promise<unknown>>> = {
  convert: (model: string, opts: ConvertOptions) => convert(model, opts),
  loadBundle: async (path: string, opts?: LoadBundleOptions) => { await (await loadBundle(path, opts)).release(); },
  generate,
  chatTemplate: async (dir: string, message: string) => {
    const model = await loadHfAnn(dir);
    try {
      const chat = new Conversation(new TemporalSpikeProcessor(model, { ann: true }), { maxNewTokens: 2 });
      for await (const piece of chat.say(message)) void piece;
    } finally {
      await model.release();
    }
  },
  evaluateText: async (bundlePath: string, textPath: string, opts: EvaluateOptions = {}) => {
    const bundle = await loadBundle(bundlePath);
    try {
      return await evaluate(bundle, bundle.tokenizer.encode(readTextFile(textPath, { what: 'evaluation text' })), opts);
    } finally {
      await bundle.release();
    }
  },
  retarget: async (bundlePath: string, timesteps: number) => {
    const bundle = await loadBundle(bundlePath);
    try { return retarget(bundle.contents.graph, timesteps); } finally { await bundle.release(); }
  },
  hfSnnSession: async (dir: string) => {
    const model = await loadHfAnn(dir);
    try { return await model.session(false); } finally { await model.release(); }
  },
  dialogues: async (path: string) => readDialogues(path),
};
