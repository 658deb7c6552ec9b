// Probe (reported, not required): a fact told in turn 1 and asked for in turn 3, answered by greedy generation through the chat path.
import { Conversation } from '../runtime/conversation.js';
import type { RunnableModel } from '../runtime/model.js';
import { TemporalSpikeProcessor } from '../runtime/tsp.js';
import { errorText, Verdict } from './result.js';
import type { CheckResult, Json } from './types.js';

export interface RecallProbe {
  /** Turn 1: the user states it. */
  readonly fact: string;
  /** Turn 3: the user asks for it. */
  readonly question: string;
  /** The reply recalls the fact when it contains one of these (case-insensitive). */
  readonly keywords: readonly string[];
}

export const RECALL_PROBES: readonly RecallProbe[] = [
  { fact: 'My name is Rosalind.', question: 'What is my name?', keywords: ['Rosalind'] },
  { fact: 'I live in Verona.', question: 'Where do I live?', keywords: ['Verona'] },
];

/**
 * Turn 1 states the fact, turn 2 is the model's own reply, turn 3 asks; the third turn's reply must
 * contain a keyword. Only an instruction-tuned model can be expected to answer, so a miss is
 * 'reported' (never 'fail'); the reason says whether the model is one (it has a chat template).
 */
export async function probeRecall(model: RunnableModel, opts: { readonly ann: boolean; readonly context: number; readonly maxNewTokens?: number; readonly probes?: readonly RecallProbe[] }): Promise<CheckResult> {
  const probes = opts.probes ?? RECALL_PROBES;
  const v = new Verdict('recall');
  const tsp = new TemporalSpikeProcessor(model, { ann: opts.ann, maxContextLength: opts.context });
  const instructionTuned = model.tokenizer.hasChatTemplate;
  const results: Json[] = [];
  let recalled = 0;
  for (const [i, probe] of probes.entries()) {
    const chat = new Conversation(tsp, { batchId: `recall-${i}`, maxNewTokens: opts.maxNewTokens ?? 16, temperature: 0 });
    try {
      const first = await say(chat, probe.fact);
      const answer = await say(chat, probe.question);
      // The chat drops old turns when the window is full: a dropped fact cannot be recalled.
      const factKept = chat.messages.some((m) => m.role === 'user' && m.content === probe.fact);
      const hit = probe.keywords.some((k) => answer.toLowerCase().includes(k.toLowerCase()));
      if (hit) recalled += 1;
      else v.fail(`asked "${probe.question}" after "${probe.fact}", the reply was ${JSON.stringify(answer)}${factKept ? '' : ' (the fact had been dropped from the window)'}`);
      results.push({ fact: probe.fact, question: probe.question, keywords: [...probe.keywords], turn2_reply: first, turn3_reply: answer, recalled: hit, fact_in_window: factKept });
    } catch (e) {
      v.fail(`the probe "${probe.fact}" could not run: ${errorText(e)}`);
      results.push({ fact: probe.fact, question: probe.question, error: errorText(e) });
    }
  }
  await tsp.release();
  const measured = { recalled, probes: probes.length, instruction_tuned: instructionTuned, counted: false, replies: results };
  const result = v.finish(`recalled ${recalled} of ${probes.length} facts from turn 1 in turn 3`, measured);
  if (result.status === 'pass') return result;
  const why = instructionTuned
    ? 'the model has a chat template (instruction-tuned) yet did not recall it'
    : 'this model is not instruction-tuned (its tokenizer has no chat template), and recall can only pass on an instruction-tuned model';
  return { ...result, status: 'reported', reason: `recalled ${recalled} of ${probes.length} facts; ${why}; reported, not counted as a failure of the suite. First miss: ${result.failures[0] ?? ''}` };
}

async function say(chat: Conversation, text: string): Promise<string> {
  let reply = '';
  for await (const piece of chat.say(text)) reply += piece.text;
  return reply.trim();
}
