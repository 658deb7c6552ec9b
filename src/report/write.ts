// Writing spike.report/: into a bundle being converted (before it is hashed), or regenerated in a finished bundle.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SnnError, isSnnError } from '../errors/index.js';
import { FILES } from '../bundle/format.js';
import { hashTree } from '../bundle/hash.js';
import { readBundle } from '../bundle/read.js';
import { buildSpikeReport, type ReportOptions } from './collect.js';
import { renderReportHtml } from './html.js';
import { openReportSource } from './source.js';
import { REPORT_DIR, REPORT_HTML, REPORT_JSON, type SpikeReport } from './types.js';

/** Builds the report of the bundle folder `bundleDir` and writes report.json and report.html into `outDir`. */
async function writeReportFiles(bundleDir: string, outDir: string, opts: ReportOptions): Promise<SpikeReport> {
  const source = await openReportSource(bundleDir);
  try {
    const report = await buildSpikeReport(source, opts);
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, REPORT_JSON), `${JSON.stringify(report, null, 1)}\n`);
    writeFileSync(join(outDir, REPORT_HTML), await renderReportHtml(report));
    return report;
  } finally {
    await source.release();
  }
}

/**
 * Writes `<dir>/spike.report/` for a bundle still being written (convert's `addExtra`): its files are then
 * hashed into meta.json with the rest.
 */
export async function writeSpikeReport(dir: string, opts: ReportOptions = {}): Promise<SpikeReport> {
  return writeReportFiles(dir, join(dir, REPORT_DIR), opts);
}

/**
 * Regenerates spike.report/ of a finished bundle: verifies it, builds the report in a temp folder, swaps it
 * in, and rewrites meta.json (temp file + rename) with the new files' sha256, so loadBundle still verifies.
 * @example
 * await regenerateSpikeReport('model.snn', { text: 'heldout.txt' });
 */
export async function regenerateSpikeReport(bundle: string, opts: ReportOptions = {}): Promise<SpikeReport> {
  const { path: dir } = readBundle(bundle);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(dir, `.${REPORT_DIR}.tmp-${tag}`);
  const old = join(dir, `.${REPORT_DIR}.old-${tag}`);
  const target = join(dir, REPORT_DIR);
  try {
    const report = await writeReportFiles(dir, temp, opts);
    const metaPath = join(dir, FILES.meta);
    const meta = JSON.parse(readFileSync(metaPath, 'utf8')) as { files: Record<string, string> };
    const files = Object.fromEntries(Object.entries(meta.files).filter(([f]) => !f.startsWith(`${REPORT_DIR}/`)));
    for (const [f, sha] of Object.entries(hashTree(temp))) files[`${REPORT_DIR}/${f}`] = sha;
    writeFileSync(`${metaPath}.tmp-${tag}`, JSON.stringify({ ...meta, files }, null, 2));
    if (existsSync(target)) renameSync(target, old);
    renameSync(temp, target);
    renameSync(`${metaPath}.tmp-${tag}`, metaPath);
    rmSync(old, { recursive: true, force: true });
    return report;
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    rmSync(join(dir, `${FILES.meta}.tmp-${tag}`), { force: true });
    if (existsSync(old) && !existsSync(target)) renameSync(old, target);
    if (isSnnError(e)) throw e;
    throw new SnnError('WRITE_FAILED', { message: `spike report not written: ${(e as Error).message}`, at: target, cause: e });
  }
}
