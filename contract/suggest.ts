/** "Did you mean …?" for a mistyped name (a CLI command, group or option, a CDK context key): the candidates nearest in edit distance. */

/**
 * The candidates closest to `word`, if any is close enough to be a likely typo: at most one edit for short
 * words, one per three characters for longer ones (at most three), counting a swap of neighbours as one.
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best = Number.POSITIVE_INFINITY;
  let found: string[] = [];
  for (const candidate of new Set(candidates)) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance > limit || distance > best) continue;
    if (distance < best) {
      best = distance;
      found = [];
    }
    found.push(candidate);
  }
  return found;
}

/** `: did you mean "a"?` (or `"a" or "b"`), or '' when nothing is close; `quote` says how a candidate is shown. */
export function didYouMean(
  word: string,
  candidates: readonly string[],
  quote: (candidate: string) => string = (candidate) => `"${candidate}"`,
): string {
  const found = closest(word, candidates);
  return found.length === 0 ? '' : `: did you mean ${found.map(quote).join(' or ')}?`;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = rows[i]!;
      row[j] = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, rows[i - 2]![j - 2]! + 1);
      }
    }
  }
  return rows[a.length]![b.length]!;
}
