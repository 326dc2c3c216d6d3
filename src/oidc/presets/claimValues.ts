import { toValueList } from '../../identity/groupValues.js';

/** The values of several claims as one list, first occurrence kept, in order. */
export function unionOf(...lists: readonly unknown[]): string[] {
  const out = new Set<string>();
  for (const list of lists) for (const v of toValueList(list)) out.add(v);
  return [...out];
}

/** A plain object's member, or undefined (claims are untrusted shapes). */
export function member(obj: unknown, key: string): unknown {
  return typeof obj === 'object' && obj !== null && !Array.isArray(obj)
    ? (obj as Record<string, unknown>)[key]
    : undefined;
}
