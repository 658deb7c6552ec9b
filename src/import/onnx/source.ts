// Which ONNX file a <model> names: a bare .onnx file, or a HF folder whose only weights are an ONNX export (transformers.js / optimum layout).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const SAFETENSORS = ['model.safetensors', 'model.safetensors.index.json'];
/** Where transformers.js keeps the export of a model folder. */
export const TRANSFORMERS_JS_ONNX = join('onnx', 'model.onnx');

/**
 * The fp32 exports a folder may hold, best first: transformers.js's onnx/model.onnx, then optimum's
 * merged decoder (its with-past branch is taken). The fp16 and quantized siblings come after any of these.
 */
const FP32_EXPORTS = [TRANSFORMERS_JS_ONNX, join('onnx', 'decoder_model_merged.onnx'), 'model.onnx', 'decoder_model_merged.onnx'];

/**
 * The ONNX file to import from a HF folder that has no safetensors weights, or null when it has them
 * (or no export). An fp32 export wins over `model_fp16.onnx` / `model_quantized.onnx`; a folder with
 * only those gets one of them, so that the importer names what it is and the file to use instead.
 */
export function onnxOnlyFolderModel(dir: string): string | null {
  if (SAFETENSORS.some((f) => existsSync(join(dir, f)))) return null;
  const fp32 = FP32_EXPORTS.map((f) => join(dir, f)).find((f) => existsSync(f));
  if (fp32) return fp32;
  const sub = join(dir, 'onnx');
  const others = existsSync(sub) ? readdirSync(sub).filter((f) => f.endsWith('.onnx')).sort() : [];
  return others.length ? join(sub, others[0]!) : null;
}
