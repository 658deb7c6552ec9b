// Which ONNX file a <model> names: a bare .onnx file, or a HF folder whose only weights are onnx/model.onnx (transformers.js layout).
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const SAFETENSORS = ['model.safetensors', 'model.safetensors.index.json'];
/** Where transformers.js keeps the export of a model folder. */
export const TRANSFORMERS_JS_ONNX = join('onnx', 'model.onnx');

/** The ONNX file to import from a HF folder that has no safetensors weights, or null when it has them (or no export). */
export function onnxOnlyFolderModel(dir: string): string | null {
  if (SAFETENSORS.some((f) => existsSync(join(dir, f)))) return null;
  const file = join(dir, TRANSFORMERS_JS_ONNX);
  return existsSync(file) ? file : null;
}
