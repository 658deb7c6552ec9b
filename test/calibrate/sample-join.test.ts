// Windows longer than one sampled document are joined from documents (test/calibrate/sampler.test.ts): observing cannot ride along.
import { describe, expect, it } from 'vitest';
import { ThresholdObservers } from '../../src/calibrate/observers.js';
import { sampleFromModel } from '../../src/calibrate/sample.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { SnnError } from '../../src/errors/index.js';

describe('model-sampled windows beyond one document', () => {
  const { graph } = importHfModel('fixtures/unseen/code-llama'); // context 512
  const start = 1;

  it('refuse observing while sampling (their positions past the first document are another context)', async () => {
    const { graph: spiking } = runRecipe(graph, 'faithful', 8, { code: 'weighted', headroom: 1 });
    const observers = new ThresholdObservers(spiking, 'max', 2 * 300);
    await expect(sampleFromModel(spiking, { samples: 2, length: 300, seed: 0, start, observers })).rejects.toBeInstanceOf(SnnError);
  });
});
