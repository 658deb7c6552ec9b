// Op attributes are typed and read by each op's own reader; code outside ops/ neither casts attributes nor tests the neuron's op name.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Node } from '../../src/ir/types.js';
import { geluAttrs } from '../../src/ops/activation.js';
import { attentionAttrs } from '../../src/ops/attention.js';
import { linearAttrs } from '../../src/ops/linear.js';
import { OPS } from '../../src/ops/registry.js';
import { isNeuron, neuronAttrs, neuronNode, neuronsOf } from '../../src/ops/spiking.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const tsFiles = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const node = (op: string, attrs: Node['attrs']): Node => ({ id: 'n', op, inputs: ['x'], outputs: ['y'], attrs, weights: {} });

describe('typed op attributes', () => {
  it('no file outside src/ops casts an attribute or tests the op name Neuron', () => {
    const found: string[] = [];
    for (const file of tsFiles(SRC).filter((f) => !relative(SRC, f).startsWith('ops'))) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (/attrs\[[^\]]*\]\s+as\s/.test(line) || /['"]Neuron['"]/.test(line)) found.push(`${relative(SRC, file)}:${i + 1}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('no file outside src/ops and src/import compares an op name with a string (they use isOp and the ops\' predicates)', () => {
    const found: string[] = [];
    for (const file of tsFiles(SRC).filter((f) => !/^(ops|import)[\\/]/.test(relative(SRC, f)))) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (/\.op\s*[!=]==?\s*['"]/.test(line) || OPS.some((op) => line.includes(`case '${op.name}':`))) found.push(`${relative(SRC, file)}:${i + 1}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('no attribute is cast to a number anywhere under src/, and ir, ops and passes hold no `as number` at all', () => {
    const casts = tsFiles(SRC).flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => /attrs\[[^\]]*\]\s+as\s+(readonly\s+)?number/.test(l)).map(() => relative(SRC, f)));
    expect(casts).toEqual([]);
    const layers = ['ir', 'ops', 'passes'].flatMap((d) => tsFiles(join(SRC, d)));
    expect(layers.filter((f) => /\bas\s+(readonly\s+)?number\b/.test(readFileSync(f, 'utf8'))).map((f) => relative(SRC, f))).toEqual([]);
  });

  it('a neuron built by neuronNode reads back its typed attributes; other ops give null', () => {
    const n = neuronNode('s.neuron', 'x', 's.spikes', { kind: 'SignedIF', levels: 2, site: 's' }, 's.threshold');
    expect(isNeuron(n)).toBe(true);
    expect(neuronAttrs(n)).toEqual({ kind: 'SignedIF', levels: 2, site: 's' });
    expect(neuronsOf([node('Relu', {}), n]).map((x) => x.attrs.site)).toEqual(['s']);
    expect(neuronAttrs(node('Relu', {}))).toBeNull();
    expect(linearAttrs(n)).toBeNull();
    expect(attentionAttrs(n)).toBeNull();
  });

  it('a mistyped attribute is refused by the reader, naming the node, the op and the attribute', () => {
    expect(() => neuronAttrs(node('Neuron', { kind: 'LIF', levels: 1, site: 's' }))).toThrow(/node n \(Neuron\): attribute kind must be one of IF, SignedIF/);
    expect(() => linearAttrs(node('Linear', { inFeatures: 4, outFeatures: '8', transposed: false }))).toThrow(/attribute outFeatures must be a number/);
    expect(() => geluAttrs({ op: 'Gelu', attrs: { approximate: 'sigmoid' } })).toThrow(/op Gelu: attribute approximate must be one of none, tanh/);
    expect(attentionAttrs(node('SpikeAttention', { numHeads: 4, numKvHeads: 2, headDim: 8 }))).toEqual({ numHeads: 4, numKvHeads: 2, headDim: 8, ropeTheta: null });
  });
});
