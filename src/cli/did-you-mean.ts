// "did you mean …": a first word that is no command, no local path and no ORG/NAME hub id, but a near miss of a command.
import { existsSync } from 'node:fs';
import { SnnError } from '../errors/index.js';

/**
 * Optimal string alignment distance (Levenshtein plus adjacent transpositions, each costing 1).
 * @example editDistance('genrate', 'generate') // 1
 */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** A typo is one edit away from a short command (≤ 4 letters) or two from a longer one; ties go to the first listed. */
export function nearestCommand(word: string, commands: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: { name: string; d: number } | undefined;
  for (const name of commands) {
    const d = editDistance(w, name);
    if (d > 0 && d <= (name.length <= 4 ? 1 : 2) && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

/**
 * Throws OPTION_INVALID when `word` (the first argument) is close to a command but is neither that
 * command, a local path, nor a hub id with an org (`ORG/NAME` is always taken as a model).
 */
export function checkCommandTypo(word: string | undefined, commands: readonly string[]): void {
  if (word === undefined || word.startsWith('-') || word.includes('/') || word.includes('\\') || commands.includes(word)) return;
  if (existsSync(word)) return;
  const guess = nearestCommand(word, commands);
  if (!guess) return;
  throw new SnnError('OPTION_INVALID', {
    message: `'${word}' is not a command, nor a file or folder here; did you mean '${guess}'?`,
    at: word,
    hint: `run snnconvert ${guess} …; to convert a hub model of that name, give it with its org (ORG/${word})`,
  });
}
