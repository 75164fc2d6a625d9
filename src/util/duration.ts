const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `24h`, `30m`, `7d`, `90s`, `500ms` or `0`; null when it is not one. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  if (!m[2] && m[1] !== '0') return null;
  return Number(m[1]) * UNITS[m[2] ?? 'ms'];
}

/** A duration as parseDuration reads it, in the largest unit that divides it (24h, 90s, 0). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
