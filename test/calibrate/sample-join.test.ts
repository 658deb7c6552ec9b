// Windows longer than one sampled document are joined from documents (test/calibrate/sampler.test.ts): observing cannot ride along.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { convert } from '../../src/convert.js';
import { ThresholdObservers } from '../../src/calibrate/observers.js';
import { sampleFromModel } from '../../src/calibrate/sample.js';
import { importHfModel } from '../../src/import/hf/index.js';
import { runRecipe } from '../../src/passes/pipeline.js';
import { SnnError } from '../../src/errors/index.js';
import { tempDir } from '../helpers.js';

describe('model-sampled windows beyond one document', () => {
  const { graph } = importHfModel('fixtures/unseen/code-llama'); // context 512
  const start = 1;

  it('refuse observing while sampling (their positions past the first document are another context)', async () => {
    const { graph: spiking } = runRecipe(graph, 'faithful', 8, { code: 'weighted', headroom: 1 });
    const observers = new ThresholdObservers(spiking, 'max', 2 * 300);
    await expect(sampleFromModel(spiking, { samples: 2, length: 300, seed: 0, start, observers })).rejects.toBeInstanceOf(SnnError);
  });

  it('are drawn through INT8 linears by default, through the float ANN with sampler float; the bundle says which', async () => {
    const meta = async (sampler?: string) => {
      const { bundlePath } = await convert('fixtures/unseen/code-llama', { out: join(tempDir(), 'm.snn'), timesteps: 4, calibration: { samples: 2, ...(sampler ? { sampler } : {}) } });
      return (JSON.parse(readFileSync(join(bundlePath, 'meta.json'), 'utf8')) as { calibration: { text: string; length: number } }).calibration;
    };
    const byDefault = await meta();
    expect(byDefault.length).toBe(512);
    expect(byDefault.text).toMatch(/^model-sampled \(seed 0, temperature 1\), documents of 256 tokens joined, drawn through 8-bit linears$/);
    expect((await meta('int8')).text).toBe(byDefault.text);
    expect((await meta('float')).text).toBe('model-sampled (seed 0, temperature 1), documents of 256 tokens joined');
  }, 120_000);

  it('refuse an unknown sampler, and a sampler for text that is not sampled (OPTION_INVALID at --calib-sampler)', async () => {
    for (const calibration of [{ sampler: 'fp16' }, { sampler: 'int8', source: 'corpus' }, { sampler: 'float', text: 'fixtures/unseen/code-llama/calib.txt' }]) {
      const out = join(tempDir(), 'never.snn');
      const e = await convert('fixtures/unseen/code-llama', { out, calibration }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SnnError);
      expect(e).toMatchObject({ code: 'OPTION_INVALID', at: '--calib-sampler' });
    }
  });
});
