// loadEventBundle(): a bundle whose SNN runs on the event-driven reference (`--simulate events`), on the CPU.
import { readBundle } from '../bundle/read.js';
import { pickForm, defaultExecution } from '../bundle/forms.js';
import { Bundle } from '../runtime/model.js';
import { loadTokenizer } from '../tokenizer/tokenizer.js';
import { EventSession } from './session.js';

/**
 * Loads a bundle (every file's sha256 verified) whose SNN calls run the event simulator: membranes,
 * thresholds and event-by-event integer synapses in TypeScript (docs/design.md §2). The ANN reference
 * and everything else behave as with loadBundle.
 *
 * @example
 * const b = await loadEventBundle('shakespeare.snn');
 * const r = await evaluate(b, b.tokenizer.encode(text));
 */
export async function loadEventBundle(path: string, opts: { readonly verify?: boolean } = {}): Promise<Bundle> {
  const contents = readBundle(path, { verify: opts.verify ?? true });
  const tokenizer = await loadTokenizer(contents.path);
  const form = pickForm(contents.forms, { execution: defaultExecution(contents.forms), spikes: true, portable: false })
    ?? pickForm(contents.forms, { execution: defaultExecution(contents.forms), spikes: false, portable: false })!;
  return new Bundle(contents, tokenizer, await EventSession.open(contents), 'cpu', form);
}
