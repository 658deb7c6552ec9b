// Writes a copy of an HF model folder whose model.safetensors holds BF16 tensors instead of F32, as the real
// SmolLM2 and Qwen2.5 checkpoints ship: the scale benchmarks' half-precision twins.
//
//   npm run build && node bench/to-half.mjs SRC_DIR DST_DIR
//
// One tensor at a time (memory stays at the largest tensor), rounded to nearest even. Never committed:
// made at bench time.
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const { readSafetensorsHeader } = await import('../dist/weights/safetensors.js');
const [src, dst] = process.argv.slice(2);
if (!src || !dst) { console.error('usage: node bench/to-half.mjs SRC_DIR DST_DIR'); process.exit(2); }
mkdirSync(dst, { recursive: true });
for (const e of readdirSync(src, { withFileTypes: true })) if (e.isFile() && e.name !== 'model.safetensors') copyFileSync(join(src, e.name), join(dst, e.name));

const { path, tensors, metadata } = readSafetensorsHeader(join(src, 'model.safetensors'));
const list = [...tensors.values()].sort((a, b) => a.offset - b.offset);
for (const t of list) if (t.dtype !== 'F32') { console.error(`${t.name} is ${t.dtype}; this script narrows F32 checkpoints`); process.exit(1); }
const header = Object.keys(metadata).length ? { __metadata__: metadata } : {};
let offset = 0;
for (const t of list) {
  header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + t.length / 2] };
  offset += t.length / 2;
}
let text = JSON.stringify(header);
while ((8 + text.length) % 8) text += ' ';

const fd = openSync(path, 'r');
const out = openSync(join(dst, 'model.safetensors'), 'w');
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
writeSync(out, length);
writeSync(out, Buffer.from(text));
for (const t of list) {
  const raw = Buffer.alloc(t.length);
  readSync(fd, raw, 0, t.length, t.offset);
  const bits = new Uint32Array(raw.buffer, raw.byteOffset, t.length / 4);
  const half = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) half[i] = (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16;
  writeSync(out, Buffer.from(half.buffer));
}
closeSync(out);
closeSync(fd);
console.log(`wrote ${join(dst, 'model.safetensors')}: ${list.length} tensors as BF16`);
