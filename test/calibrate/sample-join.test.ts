// Windows longer than one sampled document are joined from documents that each open with the start token.
import { describe, expect, it } from 'vitest';
import { ThresholdObservers } from '../../src/calibrate/observers.js';
import { SAMPLED_DOCUMENT_LENGTH, sampleFromModel } from '../../src/calibrate/sample.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { SnnError } from '../../src/errors/index.js';

describe('model-sampled windows beyond one document', () => {
  const { graph } = importHfModel('fixtures/unseen/code-llama'); // context 512
  const start = 1;

  it('cover the whole window: documents of SAMPLED_DOCUMENT_LENGTH tokens, each from the start token, the first one the short sample itself', async () => {
    const length = SAMPLED_DOCUMENT_LENGTH + 40;
    const long = await sampleFromModel(graph, { samples: 2, length, seed: 3, start });
    const short = await sampleFromModel(graph, { samples: 2, length: SAMPLED_DOCUMENT_LENGTH, seed: 3, start });
    expect(long.maxLength).toBe(length);
    for (const [b, row] of long.samples.entries()) {
      expect(row).toHaveLength(length);
      expect(row.slice(0, SAMPLED_DOCUMENT_LENGTH)).toEqual(short.samples[b]); // the same generator, drawn in the same order
      expect(row[SAMPLED_DOCUMENT_LENGTH]).toBe(start);
      expect(row.slice(SAMPLED_DOCUMENT_LENGTH + 1).some((t) => t !== start)).toBe(true);
    }
  }, 120_000);

  it('refuse observing while sampling (their positions past the first document are another context)', async () => {
    const { graph: spiking } = runRecipe(graph, 'faithful', 8, { code: 'weighted', headroom: 1 });
    const observers = new ThresholdObservers(spiking, 'max', 2 * 300);
    await expect(sampleFromModel(spiking, { samples: 2, length: 300, seed: 0, start, observers })).rejects.toBeInstanceOf(SnnError);
  });
});
