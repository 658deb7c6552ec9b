// Writes a copy of an HF model folder whose model.safetensors holds BF16 (or F16) tensors instead of F32,
// as the real SmolLM2 and Qwen2.5 checkpoints ship: the scale benchmarks' half-precision twins.
//
//   node bench/to-half.mjs SRC_DIR DST_DIR [BF16|F16]
//
// Reads one tensor at a time (memory stays at the largest tensor). BF16 rounds to nearest even; F16 rounds
// to nearest (values beyond its range become ±Inf, as a cast would). Never committed: made at bench time.
import { closeSync, copyFileSync, mkdirSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const [src, dst, dtype = 'BF16'] = process.argv.slice(2);
if (!src || !dst || !['BF16', 'F16'].includes(dtype)) { console.error('usage: node bench/to-half.mjs SRC_DIR DST_DIR [BF16|F16]'); process.exit(2); }
mkdirSync(dst, { recursive: true });
for (const e of readdirSync(src, { withFileTypes: true })) if (e.isFile() && e.name !== 'model.safetensors') copyFileSync(join(src, e.name), join(dst, e.name));

const fd = openSync(join(src, 'model.safetensors'), 'r');
const lengthBytes = Buffer.alloc(8);
readSync(fd, lengthBytes, 0, 8, 0);
const headerLength = Number(lengthBytes.readBigUInt64LE(0));
const headerBytes = Buffer.alloc(headerLength);
readSync(fd, headerBytes, 0, headerLength, 8);
const header = JSON.parse(headerBytes.toString('utf8'));
const names = Object.keys(header).filter((k) => k !== '__metadata__').sort((a, b) => header[a].data_offsets[0] - header[b].data_offsets[0]);
for (const n of names) if (header[n].dtype !== 'F32') { console.error(`${n} is ${header[n].dtype}; this script narrows F32 checkpoints`); process.exit(1); }

const out = header.__metadata__ ? { __metadata__: header.__metadata__ } : {};
let offset = 0;
for (const n of names) {
  const bytes = (header[n].data_offsets[1] - header[n].data_offsets[0]) / 2;
  out[n] = { dtype, shape: header[n].shape, data_offsets: [offset, offset + bytes] };
  offset += bytes;
}
let text = JSON.stringify(out);
while ((8 + text.length) % 8) text += ' ';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
/** float32 bits → float16 bits, round to nearest even (subnormals included). */
function toHalf(x) {
  f32[0] = x;
  const b = u32[0], sign = (b >>> 16) & 0x8000, e = (b >>> 23) & 0xff, m = b & 0x7fffff;
  if (e === 0xff) return sign | 0x7c00 | (m ? 0x200 : 0);
  const h = e - 127 + 15;
  if (h >= 0x1f) return sign | 0x7c00;
  if (h <= 0) {
    if (h < -10) return sign;
    const mm = m | 0x800000, shift = 14 - h, half = 1 << (shift - 1);
    let r = mm >>> shift;
    const rest = mm & ((1 << shift) - 1);
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (h << 10) | (m >>> 13);
  const rest = m & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++;
  return sign | r;
}

const ofd = openSync(join(dst, 'model.safetensors'), 'w');
const length = Buffer.alloc(8);
length.writeBigUInt64LE(BigInt(text.length));
writeSync(ofd, length);
writeSync(ofd, Buffer.from(text));
for (const n of names) {
  const [from, to] = header[n].data_offsets;
  const raw = Buffer.alloc(to - from);
  readSync(fd, raw, 0, raw.length, 8 + headerLength + from);
  const bits = new Uint32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const floats = new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  const half = new Uint16Array(bits.length);
  for (let i = 0; i < bits.length; i++) half[i] = dtype === 'BF16' ? (bits[i] + 0x7fff + ((bits[i] >>> 16) & 1)) >>> 16 : toHalf(floats[i]);
  writeSync(ofd, Buffer.from(half.buffer));
}
closeSync(ofd);
closeSync(fd);
console.log(`wrote ${join(dst, 'model.safetensors')}: ${names.length} tensors as ${dtype}`);
