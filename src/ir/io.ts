// The model I/O contract shared by every architecture, with HF/Optimum names (docs/design.md §4: a bundle is a contract).
import type { ModelSpec, ValueInfo } from './types.js';

export const INPUT_IDS = 'input_ids';
export const ATTENTION_MASK = 'attention_mask';
export const POSITION_IDS = 'position_ids';
export const LOGITS = 'logits';

export const pastKey = (layer: number): string => `past_key_values.${layer}.key`;
export const pastValue = (layer: number): string => `past_key_values.${layer}.value`;
export const presentKey = (layer: number): string => `present.${layer}.key`;
export const presentValue = (layer: number): string => `present.${layer}.value`;

/** Inputs: ids, mask [B, P+S], positions, and per layer the past K/V [B, KVH, P, hd]. */
export function modelInputs(spec: ModelSpec): ValueInfo[] {
  const kv = (name: string): ValueInfo => ({ name, dtype: 'float32', shape: ['batch', spec.numKvHeads, 'past', spec.headDim] });
  return [
    { name: INPUT_IDS, dtype: 'int64', shape: ['batch', 'seq'] },
    { name: ATTENTION_MASK, dtype: 'int64', shape: ['batch', 'total'] },
    { name: POSITION_IDS, dtype: 'int64', shape: ['batch', 'seq'] },
    ...Array.from({ length: spec.numLayers }, (_, i) => [kv(pastKey(i)), kv(pastValue(i))]).flat(),
  ];
}

/** Outputs: logits [B, S, V] and per layer the present K/V [B, KVH, P+S, hd]. */
export function modelOutputs(spec: ModelSpec): ValueInfo[] {
  const kv = (name: string): ValueInfo => ({ name, dtype: 'float32', shape: ['batch', spec.numKvHeads, 'total', spec.headDim] });
  return [
    { name: LOGITS, dtype: 'float32', shape: ['batch', 'seq', spec.vocabSize] },
    ...Array.from({ length: spec.numLayers }, (_, i) => [kv(presentKey(i)), kv(presentValue(i))]).flat(),
  ];
}
