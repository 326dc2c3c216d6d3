/**
 * Normalises a group/role claim of any shape into a list of strings:
 * - an array (of strings, or of objects with a `name`/`value`/`displayName`),
 * - a CSV string, parsed with CSV quoting rules so `"Ops, EMEA"` stays one value,
 * - a single string with no comma.
 * The original CSV string is kept in the result too when it differs, so exact matching on the
 * raw value still works.
 */
export function toValueList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) {
    const out: string[] = [];
    for (const v of value) {
      if (typeof v === 'string') out.push(v);
      else if (typeof v === 'number' || typeof v === 'boolean') out.push(String(v));
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        const name = o.name ?? o.value ?? o.displayName ?? o.id;
        if (typeof name === 'string') out.push(name);
      }
    }
    return dedupe(out);
  }
  if (typeof value === 'string') {
    if (!value.includes(',')) return value.trim() ? [value.trim()] : [];
    const parsed = parseCsvLine(value);
    return dedupe(parsed.includes(value) ? parsed : [...parsed, value]);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  return [];
}

function dedupe(list: string[]): string[] {
  return [...new Set(list.filter((s) => s.length > 0))];
}

/** RFC 4180 field splitting for one line; surrounding whitespace outside quotes is trimmed. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let inQuotes = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (inQuotes) {
      if (ch === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else inQuotes = false;
      } else field += ch;
    } else if (ch === '"' && field.trim() === '') {
      inQuotes = true;
      quoted = true;
      field = '';
    } else if (ch === ',') {
      out.push(quoted ? field : field.trim());
      field = '';
      quoted = false;
    } else if (!(quoted && ch === ' ')) {
      field += ch;
    }
  }
  out.push(quoted ? field : field.trim());
  return out;
}
