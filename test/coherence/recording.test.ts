// The recorder sees every step a processor feeds, as fed, without touching the model's shared session.
import { describe, expect, it } from 'vitest';
import { fedRows, RecordingModel } from '../../src/coherence/recording.js';
import { loadHfAnn } from '../../src/open/hf-ann.js';
import { TemporalSpikeProcessor } from '../../src/runtime/tsp.js';
import { GPT2_DIR } from '../helpers.js';

describe('RecordingModel', () => {
  it('records the ids, positions and mask of each row fed, and leaves the shared session as it was', async () => {
    const ann = await loadHfAnn(GPT2_DIR);
    const shared = await ann.session(true);
    const run = shared.run;
    const recorder = new RecordingModel(ann);
    const tsp = new TemporalSpikeProcessor(recorder, { ann: true });
    await tsp.forward([[65, 66, 67], [68]], { batchIds: ['a', 'b'] });
    await tsp.forward([[69], [70, 71]], { batchIds: ['a', 'b'] });
    expect(shared.run).toBe(run);
    expect(Object.prototype.hasOwnProperty.call(shared, 'run')).toBe(false);
    const rows = recorder.steps.flatMap(fedRows);
    expect(rows.map((r) => [r.tokens, r.positions, r.cachedKeys, r.newKeys])).toEqual([
      [[65, 66, 67], [0, 1, 2], 0, 3], [[68], [0], 0, 1],
      [[69], [3], 3, 1], [[70, 71], [1, 2], 1, 2],
    ]);
    expect(rows.map((r) => r.padded)).toEqual([false, true, true, true]);
    await ann.release();
  });
});
