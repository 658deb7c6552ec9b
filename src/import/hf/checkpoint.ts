// A HuggingFace weights folder: one model.safetensors, or shards listed by model.safetensors.index.json.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { z } from 'zod';
import { SnnError, throwCollected } from '../../errors/index.js';
import { readSafetensorsHeader, type StTensor } from '../../weights/safetensors.js';

/** Every tensor of a checkpoint by name, each pointing into the file that holds it; no data is read. */
export interface Checkpoint {
  /** absolute path of the folder */
  readonly dir: string;
  /** absolute paths of the safetensors files read, sorted */
  readonly files: readonly string[];
  readonly tensors: ReadonlyMap<string, StTensor>;
}

const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

const IndexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

/**
 * Opens the checkpoint in `dir`: validates every header (and, when sharded, that the index and its
 * shards agree) and returns where each tensor lives. Like transformers, the single file wins when both exist.
 * @example
 * const ck = openCheckpoint('models/distilgpt2');
 * const wte = requireTensor(ck, ['transformer.wte.weight', 'wte.weight']);
 */
export function openCheckpoint(dir: string): Checkpoint {
  const root = resolve(dir);
  const single = join(root, SINGLE_FILE);
  if (isFile(single)) return { dir: root, files: [single], tensors: readSafetensorsHeader(single).tensors };
  const index = join(root, INDEX_FILE);
  if (isFile(index)) return openSharded(root, index);
  throw weightsMissing(root);
}

/**
 * Returns the first of `names` (aliases of one weight) present in the checkpoint; otherwise throws
 * TENSOR_MISSING listing the names tried and any similarly named tensors the checkpoint does have.
 */
export function requireTensor(ck: Checkpoint, names: readonly string[]): StTensor {
  for (const name of names) {
    const tensor = ck.tensors.get(name);
    if (tensor) return tensor;
  }
  const tried = names.map((n) => `"${n}"`).join(', ');
  const similar = similarNames(ck, names);
  throw new SnnError('TENSOR_MISSING', {
    message: `none of ${tried} is in the checkpoint${similar.length ? `; similar names present: ${similar.join(', ')}` : ''}`,
    at: ck.dir,
  });
}

function openSharded(root: string, indexPath: string): Checkpoint {
  const weightMap = readIndex(indexPath);
  const shardNames = [...new Set(Object.values(weightMap))].sort();

  const escaping = shardNames.filter((name) => !isInside(root, name));
  throwCollected(
    'SAFETENSORS_INVALID',
    escaping.map((name) => `shard "${name}" points outside the model folder`),
    indexPath,
    'shard names in weight_map must be files inside the model folder: the index is damaged or malicious',
  );
  const missing = shardNames.filter((name) => !isFile(join(root, name)));
  throwCollected(
    'WEIGHTS_MISSING',
    missing.map((name) => `shard "${name}" named by the index is not in ${root}`),
    indexPath,
    'download the missing shards (every file named in weight_map) again',
  );

  const headers = new Map(shardNames.map((name) => [name, readSafetensorsHeader(join(root, name))]));
  const tensors = new Map<string, StTensor>();
  const problems: string[] = [];
  for (const [tensorName, shardName] of Object.entries(weightMap)) {
    const tensor = headers.get(shardName)?.tensors.get(tensorName);
    if (tensor) tensors.set(tensorName, tensor);
    else problems.push(`tensor "${tensorName}" is listed in shard "${shardName}" but that shard does not hold it`);
  }
  throwCollected('SAFETENSORS_INVALID', problems, indexPath, 'the index does not match its shards: download the checkpoint again');
  return { dir: root, files: shardNames.map((name) => join(root, name)), tensors };
}

function readIndex(indexPath: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new SnnError('SAFETENSORS_INVALID', { message: `${INDEX_FILE} is not JSON (${reason})`, at: indexPath, cause: e });
  }
  const parsed = IndexSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'the index'}: ${i.message}`);
    throw new SnnError('SAFETENSORS_INVALID', {
      message: `${INDEX_FILE} does not have the expected shape: ${problems.join('; ')}`,
      at: indexPath,
      hint: 'the index needs {"weight_map": {tensor name: shard file}}: download it again',
    });
  }
  const weightMap = parsed.data.weight_map;
  if (Object.keys(weightMap).length === 0) {
    throw new SnnError('WEIGHTS_MISSING', { message: `${INDEX_FILE} lists no tensors in weight_map`, at: indexPath });
  }
  return weightMap;
}

/** A shard name must resolve to a path below the folder: no absolute paths, no `..` out of it. */
function isInside(root: string, name: string): boolean {
  if (isAbsolute(name)) return false;
  const rel = relative(root, resolve(root, name));
  return rel !== '' && !isAbsolute(rel) && rel.split(sep)[0] !== '..';
}

function weightsMissing(root: string): SnnError {
  const stat = statSync(root, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) {
    return new SnnError('WEIGHTS_MISSING', { message: `${root} is not a folder`, at: root, hint: 'give the folder that holds config.json and the weights' });
  }
  const pytorch = readdirSync(root).filter((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
  // PyTorch pickles are never read: unpickling runs code from the file.
  const hint = pytorch.length
    ? `only PyTorch weights (${pytorch.join(', ')}) were found, which snnconvert does not unpickle; re-save them as safetensors in Python: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)`
    : 'the folder needs model.safetensors (or model.safetensors.index.json with its shards), or an ONNX export at onnx/model.onnx';
  return new SnnError('WEIGHTS_MISSING', {
    message: `${root} has neither ${SINGLE_FILE} nor ${INDEX_FILE}, nor an ONNX export at onnx/model.onnx`,
    at: root,
    hint,
  });
}

/** Checkpoint names ending like one of the aliases (e.g. `…wte.weight`), to hint at a prefix mismatch. */
function similarNames(ck: Checkpoint, names: readonly string[]): string[] {
  const tails = names.map((n) => n.split('.').slice(-2).join('.'));
  const endsLike = (k: string): boolean => tails.some((tail) => k === tail || k.endsWith(`.${tail}`));
  return [...ck.tensors.keys()].filter(endsLike).slice(0, 3).map((k) => `"${k}"`);
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
