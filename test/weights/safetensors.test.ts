// The safetensors reader and writer: round trips, exact half-precision decoding, every kind of damaged file.
import { mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { snnErrorOf } from '../helpers.js';
import { SnnError } from '../../src/errors/index.js';
import {
  countNonFinite,
  readSafetensorsHeader,
  readTensorFloat32,
  TensorRows,
  writeSafetensors,
  type StTensor,
} from '../../src/weights/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'snn-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileNumber = 0;

/** Writes a raw file: 8-byte length (the real one unless `declaredLength` is given), header text, data. */
function rawFile(header: unknown, data: Uint8Array = new Uint8Array(), declaredLength?: bigint): string {
  const text = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(declaredLength ?? BigInt(text.length));
  const path = join(dir, `raw-${fileNumber++}.safetensors`);
  writeFileSync(path, Buffer.concat([length, text, data]));
  return path;
}

function u16Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(values).buffer);
}

function tensorOf(path: string, name: string): StTensor {
  const tensor = readSafetensorsHeader(path).tensors.get(name);
  if (!tensor) throw new Error(`test setup: ${name} missing from ${path}`);
  return tensor;
}

describe('writeSafetensors then readSafetensorsHeader', () => {
  it('round-trips names, shapes, metadata and values, with data aligned to 64 bytes', () => {
    const path = join(dir, 'roundtrip.safetensors');
    const calls: string[] = [];
    const entries = [
      { name: 'w', shape: [2, 3], values: [1, -2, 3.5, 0, 1e-30, -7] },
      { name: 'scalar', shape: [], values: [42] },
      { name: 'empty', shape: [0, 3], values: [] },
      { name: 'b', shape: [3], values: [0.25, 0.5, 0.75] },
    ];
    const written = writeSafetensors(
      path,
      entries.map(({ name, shape, values }) => ({ name, shape, data: () => (calls.push(name), new Float32Array(values)) })),
      { format: 'pt', note: 'ünïcode' },
    );

    expect(calls).toEqual(['w', 'scalar', 'empty', 'b']);
    expect(written.dataStart % 64).toBe(0);
    const header = readSafetensorsHeader(path);
    expect(header.dataStart).toBe(written.dataStart);
    expect(header.metadata).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(header.fileSize).toBe(written.dataStart + (6 + 1 + 0 + 3) * 4);
    let next = written.dataStart;
    for (const { name, shape, values } of entries) {
      const tensor = header.tensors.get(name);
      expect(tensor).toMatchObject({ name, dtype: 'F32', shape, path, offset: next, length: values.length * 4 });
      expect(written.offsets.get(name)).toEqual({ offset: next, length: values.length * 4 });
      expect(Array.from(readTensorFloat32(tensor!))).toEqual(values.map(Math.fround));
      next += values.length * 4;
    }
  });

  it('replaces an existing file only once the new one is complete', () => {
    const path = join(dir, 'replace.safetensors');
    writeSafetensors(path, [{ name: 'old', shape: [1], data: () => new Float32Array([1]) }]);
    writeSafetensors(path, [{ name: 'new', shape: [1], data: () => new Float32Array([2]) }]);
    expect([...readSafetensorsHeader(path).tensors.keys()]).toEqual(['new']);
  });
});

describe('readTensorFloat32', () => {
  it('decodes F16 bit patterns exactly, including subnormals, infinities and NaN', () => {
    const bits = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x3555, 0x8000, 0x7c00, 0xfc00, 0x7e00];
    const path = rawFile({ h: { dtype: 'F16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16Bytes(bits));
    const values = Array.from(readTensorFloat32(tensorOf(path, 'h')));
    expect(values).toEqual([1, -2, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 0.333251953125, -0, Infinity, -Infinity, NaN]);
    expect(Object.is(values[7], -0)).toBe(true);
  });

  it('decodes BF16 bit patterns exactly', () => {
    const bits = [0x3f80, 0x4049, 0xc000, 0x0001, 0x7f80, 0xff80, 0x7fc0];
    const path = rawFile({ b: { dtype: 'BF16', shape: [bits.length], data_offsets: [0, bits.length * 2] } }, u16Bytes(bits));
    expect(Array.from(readTensorFloat32(tensorOf(path, 'b')))).toEqual([1, 3.140625, -2, 2 ** -133, Infinity, -Infinity, NaN]);
  });

  it('narrows F64 to the nearest F32, overflowing to Inf', () => {
    const doubles = new Float64Array([0.1, 1.5, 1e300, -1e300]);
    const path = rawFile({ d: { dtype: 'F64', shape: [2, 2], data_offsets: [0, 32] } }, new Uint8Array(doubles.buffer));
    expect(Array.from(readTensorFloat32(tensorOf(path, 'd')))).toEqual([Math.fround(0.1), 1.5, Infinity, -Infinity]);
  });

  it('refuses integer tensors with TENSOR_DTYPE naming the file and tensor', () => {
    const path = rawFile({ ids: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8));
    const error = snnErrorOf(() => readTensorFloat32(tensorOf(path, 'ids')));
    expect(error.code).toBe('TENSOR_DTYPE');
    expect(error.render()).toContain(path);
    expect(error.message).toContain('"ids"');
  });
});

describe('countNonFinite', () => {
  it('finds NaN and ±Inf in F32, F16 and BF16, and none in integers', () => {
    const f32 = new Float32Array([1, NaN, 2, Infinity, -Infinity, 3.4e38]);
    const path = rawFile(
      {
        f32: { dtype: 'F32', shape: [6], data_offsets: [0, 24] },
        f16: { dtype: 'F16', shape: [4], data_offsets: [24, 32] },
        bf16: { dtype: 'BF16', shape: [3], data_offsets: [32, 38] },
        u8: { dtype: 'U8', shape: [2], data_offsets: [38, 40] },
      },
      Buffer.concat([new Uint8Array(f32.buffer), u16Bytes([0x7bff, 0x7e00, 0xfc00, 0]), u16Bytes([0x7f80, 0x3f80, 0xffc1]), new Uint8Array([255, 255])]),
    );
    expect(countNonFinite(tensorOf(path, 'f32'))).toBe(3);
    expect(countNonFinite(tensorOf(path, 'f16'))).toBe(2);
    expect(countNonFinite(tensorOf(path, 'bf16'))).toBe(2);
    expect(countNonFinite(tensorOf(path, 'u8'))).toBe(0);
  });

  it('streams a tensor larger than one 16 MiB chunk and finds values on both sides of the boundary', () => {
    const count = 5_000_000; // 20 MB
    const boundary = (16 * 1024 * 1024) / 4;
    const path = join(dir, 'large.safetensors');
    const written = writeSafetensors(path, [
      {
        name: 'big',
        shape: [count],
        data: () => {
          const values = new Float32Array(count);
          for (const i of [0, boundary - 1, boundary, count - 1]) values[i] = NaN;
          values[12345] = -Infinity;
          return values;
        },
      },
    ]);
    expect(written.offsets.get('big')?.length).toBe(count * 4);
    expect(countNonFinite(tensorOf(path, 'big'))).toBe(5);
  });
});

describe('readSafetensorsHeader refuses damaged files', () => {
  /** Asserts SAFETENSORS_INVALID whose rendered message names the file and every fragment given. */
  function expectInvalid(path: string, ...fragments: string[]): void {
    const error = snnErrorOf(() => readSafetensorsHeader(path));
    expect(error.code).toBe('SAFETENSORS_INVALID');
    expect(error.at).toBe(path);
    const text = error.render();
    expect(text).toContain(path);
    for (const fragment of fragments) expect(text).toContain(fragment);
  }
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };

  it('a file shorter than the 8-byte length', () => {
    const path = join(dir, 'tiny.safetensors');
    writeFileSync(path, Buffer.from([1, 2, 3]));
    expectInvalid(path, 'shorter than the 8-byte header length');
  });

  it('a header length beyond the end of the file', () => {
    expectInvalid(rawFile(good, new Uint8Array(8), 10_000n), 'truncated');
  });

  it('an absurd header length', () => {
    expectInvalid(rawFile(good, new Uint8Array(8), 2n ** 40n), 'absurd');
  });

  it('a header that is not JSON, or not an object', () => {
    expectInvalid(rawFile('{"w": {"dtype": "F32",', new Uint8Array(8)), 'not UTF-8 JSON');
    expectInvalid(rawFile('[1, 2]'), 'not an object');
  });

  it('an unknown dtype, listing the known ones', () => {
    expectInvalid(rawFile({ w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, new Uint8Array(2)), '"w"', 'F8_E4M3', 'F32, F16, BF16');
  });

  it('a shape that is not non-negative integers, and offsets that are not [begin, end]', () => {
    const path = rawFile(
      {
        neg: { dtype: 'F32', shape: [-1], data_offsets: [0, 0] },
        frac: { dtype: 'F32', shape: [1.5], data_offsets: [0, 0] },
        back: { dtype: 'F32', shape: [0], data_offsets: [8, 4] },
        three: { dtype: 'F32', shape: [0], data_offsets: [0, 0, 0] },
      },
      new Uint8Array(8),
    );
    expectInvalid(path, '4 problems', '"neg"', '"frac"', '"back"', '"three"');
  });

  it('a byte length that does not match dtype and shape', () => {
    expectInvalid(rawFile({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), '"w"', 'holds 8 bytes but F32 [3] needs 12');
  });

  it('offsets past the end of the data (a truncated file), saying so', () => {
    const path = join(dir, 'truncated.safetensors');
    const written = writeSafetensors(path, [
      { name: 'a', shape: [4], data: () => new Float32Array(4) },
      { name: 'b', shape: [4], data: () => new Float32Array(4) },
    ]);
    truncateSync(path, written.dataStart + 20);
    expectInvalid(path, '"b"', 'truncated');
  });

  it('overlapping tensors, naming both', () => {
    const path = rawFile(
      {
        first: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
        second: { dtype: 'F32', shape: [2], data_offsets: [4, 12] },
      },
      new Uint8Array(12),
    );
    expectInvalid(path, '"first"', '"second"', 'overlap');
  });

  it('metadata values that are not strings', () => {
    expectInvalid(rawFile({ __metadata__: { step: 3 }, ...good }, new Uint8Array(8)), '__metadata__', '"step"');
  });

  it('a file that does not exist, as WEIGHTS_MISSING', () => {
    const path = join(dir, 'absent.safetensors');
    const error = snnErrorOf(() => readSafetensorsHeader(path));
    expect(error.code).toBe('WEIGHTS_MISSING');
    expect(error.render()).toContain(path);
  });

  it('but accepts gaps between tensors and empty tensors anywhere', () => {
    const path = rawFile(
      {
        a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] },
        none: { dtype: 'F32', shape: [0], data_offsets: [2, 2] },
        b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] },
      },
      new Uint8Array(new Float32Array([1, 0, 2]).buffer),
    );
    expect(Array.from(readTensorFloat32(tensorOf(path, 'b')))).toEqual([2]);
  });
});

describe('writeSafetensors failures', () => {
  function failIn(name: string, entries: Parameters<typeof writeSafetensors>[1]): SnnError {
    const sub = mkdtempSync(join(dir, `${name}-`));
    const path = join(sub, 'out.safetensors');
    const error = snnErrorOf(() => writeSafetensors(path, entries));
    expect(readdirSync(sub)).toEqual([]); // neither the output nor its temp file is left behind
    return error;
  }

  it('leaves no temp file when a data() throws, and names the tensor', () => {
    const error = failIn('throws', [
      { name: 'ok', shape: [1], data: () => new Float32Array([1]) },
      { name: 'bad', shape: [1], data: () => { throw new Error('disk on fire'); } },
    ]);
    expect(error.code).toBe('WRITE_FAILED');
    expect(error.message).toContain('tensor "bad"');
    expect(error.message).toContain('disk on fire');
    expect(error.render()).toContain('out.safetensors');
  });

  it('refuses data of the wrong length', () => {
    const error = failIn('length', [{ name: 'w', shape: [2, 2], data: () => new Float32Array(3) }]);
    expect(error.code).toBe('WRITE_FAILED');
    expect(error.message).toContain('needs 4');
  });

  it('lets an SnnError raised by data() through with its own code', () => {
    const nonFinite = new SnnError('TENSOR_NONFINITE', { message: 'w holds NaN', at: 'w' });
    expect(failIn('snn', [{ name: 'w', shape: [1], data: () => { throw nonFinite; } }])).toBe(nonFinite);
  });

  it('refuses duplicate names before writing anything', () => {
    const data = (): Float32Array => new Float32Array(1);
    const error = failIn('dup', [{ name: 'w', shape: [1], data }, { name: 'w', shape: [1], data }]);
    expect(error.code).toBe('WRITE_FAILED');
    expect(error.message).toContain('"w"');
  });

  it('reports a missing folder as WRITE_FAILED', () => {
    const path = join(dir, 'no-such-folder', 'out.safetensors');
    const error = snnErrorOf(() => writeSafetensors(path, []));
    expect(error.code).toBe('WRITE_FAILED');
    expect(error.render()).toContain(path);
  });
});

describe('TensorRows (one row at a time, the sampler\'s token embeddings)', () => {
  const path = join(dir, 'rows.safetensors');
  const table = Float32Array.from({ length: 5 * 3 }, (_, i) => i * 0.25 - 1);
  writeSafetensors(path, [{ name: 'table', shape: [5, 3], data: () => table }, { name: 'bias', shape: [3], data: () => new Float32Array(3) }]);
  const tensor = () => readSafetensorsHeader(path).tensors.get('table')!;

  it('reads the rows asked for into the rows of a batch, as the whole tensor has them', () => {
    const rows = new TensorRows(tensor());
    try {
      const into = new Float32Array(3 * 3);
      [4, 0, 2].forEach((row, at) => rows.read(row, into, at));
      const whole = readTensorFloat32(tensor());
      expect(Array.from(into)).toEqual([...whole.subarray(12, 15), ...whole.subarray(0, 3), ...whole.subarray(6, 9)]);
    } finally {
      rows.close();
    }
  });

  it('refuses a row outside the table and a tensor that is not a 2-D F32 table', () => {
    const rows = new TensorRows(tensor());
    try {
      for (const row of [5, -1, 1.5]) expect(snnErrorOf(() => rows.read(row, new Float32Array(3), 0)).code).toBe('SAFETENSORS_INVALID');
    } finally {
      rows.close();
    }
    const bias = readSafetensorsHeader(path).tensors.get('bias')!;
    expect(snnErrorOf(() => new TensorRows(bias)).code).toBe('SAFETENSORS_INVALID');
  });
});
