import { readClaim } from './claimPath.js';
import { IDENTITY_HEADER_NAMES } from './identity.js';

/**
 * Templated upstream headers (`headers.templates`): literal text and `{{ expr }}` holes, where
 * an expression is one of
 *
 *   claims.<path>                     a claim; <path> is `name(.name)*` and/or `["any name"]` parts
 *   accessToken | idToken             the session's (a bearer request's) token
 *   join <claims path> '<separator>'  a list claim joined by the separator
 *   default <claims path> '<text>'    the claim, or the text when the claim is missing
 *
 * That is the whole language: no code runs, nothing loops, nothing is looked up but the claims
 * kept for the session and its tokens. Templates are parsed once, at config load; rendering is
 * string concatenation.
 *
 * Dotted parts are read like every claim name in the configuration (claimPath.ts `readClaim`: a
 * name that exists as-is wins, so `claims.realm_access.roles` and a claim literally named
 * `realm_access.roles` both work); a bracketed part is one exact name (`claims["https://x/roles"]`).
 */

/** Why a header was left out on one render (logged at debug by the caller, never the value). */
export type OmitReason =
  /** A value it needs is missing (no such claim, an empty list, no token): use `default`. */
  | 'missing'
  /** The value rendered holds a control character (CR, LF, NUL...): header injection. */
  | 'control_character'
  /** Longer than `headers.maxTemplateValueBytes`. */
  | 'too_long'
  /** Rendered to the empty string. */
  | 'empty';

export interface HeaderTemplateInput {
  /** The claims kept for the principal (only `claimNames` are read). */
  claims: Readonly<Record<string, unknown>> | undefined;
  /** The principal's tokens; called at most once per render, and only when `needsTokens`. */
  tokens?: (() => { accessToken?: string | undefined; idToken?: string | undefined }) | undefined;
  /** Told about each header left out, and why. */
  onOmitted?: ((name: string, reason: OmitReason) => void) | undefined;
}

export interface HeaderTemplates {
  /** The header names, lower-case, in configuration order. */
  readonly names: readonly string[];
  /** Whether any template uses `accessToken` or `idToken` (tokens are opened only then). */
  readonly needsTokens: boolean;
  /** The top-level claim names the templates may read: the only claims a session needs to keep. */
  readonly claimNames: readonly string[];
  /** The headers (names lower-case); a header that cannot be rendered safely is left out. */
  render(input: HeaderTemplateInput): Record<string, string>;
}

/** A template that does not parse, or a header name that is not allowed; `problems` name the key. */
export class HeaderTemplateError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'HeaderTemplateError';
  }
}

/** `headers.maxTemplateValueBytes`' default. */
const DEFAULT_MAX_TEMPLATE_VALUE_BYTES = 8192;

/**
 * Names a template may not set: framing and connection management (the proxy owns them, and a
 * second Content-Length or Transfer-Encoding is request smuggling), the Host the request was
 * decided on, the client's cookies, and the hop-by-hop headers of RFC 9110 §7.6.1.
 */
const FORBIDDEN_NAMES = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'cookie',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'proxy-authenticate',
  'te',
  'trailer',
  'upgrade',
  'expect',
]);

/**
 * Names Gatehouse writes itself (identity, forwarding, request id; the families of
 * http/managedHeaders.ts): a template must not say something else under them.
 */
const GATEHOUSE_NAMES = new Set<string>([...IDENTITY_HEADER_NAMES, 'x-real-ip', 'x-request-id', 'forwarded']);
const GATEHOUSE_PREFIXES = ['x-forwarded-', 'x-auth-request-', 'x-gatehouse-'];

/**
 * Letters, digits and `-` only. HTTP allows more in a name (`_`, `.`, `~`...), but CGI-style
 * upstreams read those as `-` (so `X_User` and `X-User` would be one header there) and nginx
 * drops them by default: a templated name has one spelling, which the gateway can own.
 */
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
/** RFC 9110 §5.1 field-name (token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A dotted claim-path part: what `claims.<name>` may say without brackets. */
const PATH_NAME = /[A-Za-z0-9_$-]/;
const WORD_START = /[A-Za-z]/;
const WORD = /[A-Za-z0-9_]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII fast path
const ASCII = /^[\u0000-\u007f]*$/;

const GRAMMAR_HINT =
  "a hole is {{claims.<name>}}, {{accessToken}}, {{idToken}}, {{join claims.<name> '<separator>'}} or {{default claims.<name> '<text>'}}";

/** One part of a claim path: a dotted run (read by readClaim) or one exact, bracketed name. */
type PathPart = { dotted: string } | { exact: string };

type Piece =
  | { kind: 'text'; text: string }
  | { kind: 'claim'; path: PathPart[] }
  | { kind: 'token'; which: 'accessToken' | 'idToken' }
  | { kind: 'join'; path: PathPart[]; separator: string }
  | { kind: 'default'; path: PathPart[]; fallback: string };

interface CompiledHeader {
  name: string;
  pieces: Piece[];
}

/** A syntax error at a 1-based column of the template. */
class SyntaxProblem extends Error {
  constructor(
    message: string,
    readonly column: number,
    readonly fix: string,
  ) {
    super(message);
  }
}

/**
 * Parses every template of `templates` (header name → template). `where` is the configuration key
 * they sit under (`headers.templates`), for the messages: each names `<where>.<Header>`, what is
 * wrong, where, and the fix. Throws HeaderTemplateError listing every problem.
 */
export function compileHeaderTemplates(
  templates: Readonly<Record<string, string>>,
  where: string,
  maxValueBytes: number = DEFAULT_MAX_TEMPLATE_VALUE_BYTES,
): HeaderTemplates {
  const problems: string[] = [];
  const headers: CompiledHeader[] = [];
  const seen = new Map<string, string>();
  for (const [name, template] of Object.entries(templates)) {
    const key = `${where}.${name}`;
    const lower = name.toLowerCase();
    const nameProblem = headerNameProblem(name);
    if (nameProblem) {
      problems.push(`${key}: ${nameProblem}`);
      continue;
    }
    const twin = seen.get(lower);
    if (twin !== undefined) {
      problems.push(`${key}: the same header as ${where}.${twin} (header names ignore case) — keep one`);
      continue;
    }
    seen.set(lower, name);
    if (typeof template !== 'string') {
      problems.push(`${key}: must be a string template, e.g. "{{claims.email}}"`);
      continue;
    }
    try {
      headers.push({ name: lower, pieces: parseTemplate(template) });
    } catch (err) {
      if (!(err instanceof SyntaxProblem)) throw err;
      problems.push(`${key}: ${err.message} at column ${err.column} — fix: ${err.fix}`);
    }
  }
  if (problems.length) throw new HeaderTemplateError(problems);
  return new CompiledTemplates(headers, maxValueBytes);
}

function headerNameProblem(name: string): string | undefined {
  if (!TOKEN.test(name)) {
    return 'is not a valid header name (an HTTP token) — fix: use letters, digits and - only, e.g. X-User-Email';
  }
  if (!NAME.test(name)) {
    return 'is not a name a template may set: one spelling only — fix: use letters, digits and - only, - not at either end (upstreams read _ and . as -, and nginx drops them)';
  }
  const lower = name.toLowerCase();
  if (FORBIDDEN_NAMES.has(lower)) {
    return `${name} cannot be templated (framing, routing, cookies and hop-by-hop headers belong to the connection) — fix: remove it`;
  }
  if (GATEHOUSE_NAMES.has(lower) || GATEHOUSE_PREFIXES.some((p) => lower.startsWith(p))) {
    return `${name} is a header Gatehouse sets itself — fix: choose a name of your own (such as X-User-Email)`;
  }
  return undefined;
}

/** Literal text and holes; throws SyntaxProblem. */
function parseTemplate(t: string): Piece[] {
  if (t.length === 0) throw new SyntaxProblem('is empty', 1, 'give it a value, or remove the header');
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < t.length) {
    if (t.startsWith('{{', i)) {
      const close = closingBraces(t, i + 2);
      if (close < 0) throw new SyntaxProblem('"{{" is never closed', i + 1, 'end the hole with "}}"');
      if (text) pieces.push({ kind: 'text', text });
      text = '';
      pieces.push(parseExpression(t, i + 2, close));
      i = close + 2;
      continue;
    }
    if (t.startsWith('}}', i)) {
      throw new SyntaxProblem('"}}" without an opening "{{"', i + 1, 'remove it, or open the hole with "{{"');
    }
    if (CONTROL.test(t[i]!)) {
      throw new SyntaxProblem('a control character', i + 1, 'remove it (CR, LF and tabs are never sent)');
    }
    text += t[i];
    i++;
  }
  if (text) pieces.push({ kind: 'text', text });
  return pieces;
}

/** Index of the `}}` that ends the hole opened before `from`, outside quoted text; -1 if none. */
function closingBraces(t: string, from: number): number {
  let quote: string | undefined;
  for (let i = from; i < t.length; i++) {
    const c = t[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '}' && t[i + 1] === '}') return i;
  }
  return -1;
}

/** A cursor over one hole, `t[start, end)`, with 1-based columns of the whole template. */
class Cursor {
  constructor(
    readonly t: string,
    public i: number,
    readonly end: number,
  ) {}
  get done(): boolean {
    return this.i >= this.end;
  }
  get column(): number {
    return this.i + 1;
  }
  peek(): string {
    return this.i < this.end ? this.t[this.i]! : '';
  }
  spaces(): number {
    const from = this.i;
    while (!this.done && (this.peek() === ' ' || this.peek() === '\t')) this.i++;
    return this.i - from;
  }
  word(): string {
    const from = this.i;
    if (!WORD_START.test(this.peek())) return '';
    while (!this.done && WORD.test(this.peek())) this.i++;
    return this.t.slice(from, this.i);
  }
  /** A '…' or "…" string (no escapes: the other quote is how to write one). */
  quoted(what: string, example: string): string {
    const q = this.peek();
    if (q !== "'" && q !== '"') throw new SyntaxProblem(`expected ${what} in quotes`, this.column, example);
    const from = this.i + 1;
    const close = this.t.indexOf(q, from);
    if (close < 0 || close >= this.end) {
      throw new SyntaxProblem(`unterminated ${q === "'" ? "'" : '"'}`, this.column, `close it with ${q}`);
    }
    const s = this.t.slice(from, close);
    const bad = s.search(CONTROL);
    if (bad >= 0) throw new SyntaxProblem('a control character', from + bad + 1, 'remove it');
    this.i = close + 1;
    return s;
  }
}

function parseExpression(t: string, start: number, end: number): Piece {
  const c = new Cursor(t, start, end);
  c.spaces();
  if (c.done) throw new SyntaxProblem('empty "{{}}"', start - 1, GRAMMAR_HINT);
  const at = c.column;
  const word = c.word();
  if (!word) throw new SyntaxProblem(`expected a value, found "${c.peek()}"`, at, GRAMMAR_HINT);
  let piece: Piece;
  if (word === 'claims') {
    piece = { kind: 'claim', path: claimPath(c, at) };
  } else if (word === 'accessToken' || word === 'idToken') {
    piece = { kind: 'token', which: word };
  } else if (word === 'join' || word === 'default') {
    const example =
      word === 'join'
        ? "write {{join claims.roles ','}}: a claims path, then the separator in quotes"
        : "write {{default claims.tid 'none'}}: a claims path, then the text in quotes";
    if (c.spaces() === 0 || c.done) throw new SyntaxProblem(`${word} needs a claims path`, c.column, example);
    const pathAt = c.column;
    if (c.word() !== 'claims') {
      throw new SyntaxProblem(`${word} takes a claims path (claims.<name>)`, pathAt, example);
    }
    const path = claimPath(c, pathAt);
    if (c.spaces() === 0 || c.done) {
      throw new SyntaxProblem(
        `${word} needs a ${word === 'join' ? 'separator' : 'default text'} after the path`,
        c.column,
        example,
      );
    }
    const arg = c.quoted(word === 'join' ? 'the separator' : 'the default text', example);
    piece =
      word === 'join' ? { kind: 'join', path, separator: arg } : { kind: 'default', path, fallback: arg };
  } else {
    // `joins claims.x ','` is a call; `claim.email` or `user` is a value.
    const isCall = c.spaces() > 0 && !c.done;
    throw new SyntaxProblem(
      `unknown ${isCall ? 'function' : 'value'} "${word}"`,
      at,
      isCall
        ? "the functions are join and default, e.g. {{join claims.roles ','}}"
        : `${GRAMMAR_HINT}${suggestion(word)}`,
    );
  }
  c.spaces();
  if (!c.done) throw new SyntaxProblem(`unexpected "${t.slice(c.i, end).trim()}"`, c.column, GRAMMAR_HINT);
  return piece;
}

function suggestion(word: string): string {
  const lower = word.toLowerCase();
  if (lower === 'claim') return ' (did you mean claims?)';
  if (lower === 'accesstoken' || lower === 'access_token') return ' (did you mean accessToken?)';
  if (lower === 'idtoken' || lower === 'id_token') return ' (did you mean idToken?)';
  return '';
}

/** `.name.name["exact"].name…` right after the word `claims` (which began at column `at`). */
function claimPath(c: Cursor, at: number): PathPart[] {
  const parts: PathPart[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length) parts.push({ dotted: run.join('.') });
    run = [];
  };
  while (!c.done) {
    const ch = c.peek();
    if (ch === '.') {
      c.i++;
      const from = c.i;
      while (!c.done && PATH_NAME.test(c.peek())) c.i++;
      if (c.i === from) {
        throw new SyntaxProblem(
          'expected a claim name after "."',
          c.column,
          'names with other characters go in brackets: claims["https://example.com/roles"]',
        );
      }
      run.push(c.t.slice(from, c.i));
    } else if (ch === '[') {
      flush();
      c.i++;
      c.spaces();
      const name = c.quoted('the claim name', 'write claims["https://example.com/roles"]');
      c.spaces();
      if (c.peek() !== ']') throw new SyntaxProblem('expected "]"', c.column, 'close the bracket');
      c.i++;
      if (!name) throw new SyntaxProblem('empty claim name', c.column - 1, 'name the claim');
      parts.push({ exact: name });
    } else break;
  }
  flush();
  if (parts.length === 0) {
    throw new SyntaxProblem(
      'claims needs a claim name',
      at,
      'write claims.email or claims["https://example.com/roles"]',
    );
  }
  const next = c.peek();
  if (next !== '' && next !== ' ' && next !== '\t') {
    throw new SyntaxProblem(
      `"${next}" in a claim path`,
      c.column,
      'names with other characters go in brackets: claims["https://example.com/roles"]',
    );
  }
  return parts;
}

/** The top-level claims a path may read: both readings of a dotted first part (as-is, and its first name). */
function topLevelNames(path: PathPart[]): string[] {
  const first = path[0]!;
  if ('exact' in first) return [first.exact];
  const head = first.dotted.split('.')[0]!;
  return head === first.dotted ? [head] : [first.dotted, head];
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function resolve(claims: Readonly<Record<string, unknown>> | undefined, path: PathPart[]): unknown {
  let cur: unknown = claims;
  for (const part of path) {
    if (!isPlainObject(cur)) return undefined;
    if ('exact' in part) cur = Object.hasOwn(cur, part.exact) ? cur[part.exact] : undefined;
    else cur = readClaim(cur, part.dotted);
  }
  return cur;
}

/** One list element or scalar as text; undefined for nothing (null, undefined, ''). */
function scalarText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** A claim value as text: lists joined with `separator`, objects as JSON; undefined when missing or empty. */
function valueText(v: unknown, separator: string): string | undefined {
  if (Array.isArray(v)) {
    const items: string[] = [];
    for (const x of v) {
      const s = scalarText(x);
      if (s !== undefined) items.push(s);
    }
    return items.length ? items.join(separator) : undefined;
  }
  return scalarText(v);
}

class CompiledTemplates implements HeaderTemplates {
  readonly names: readonly string[];
  readonly needsTokens: boolean;
  readonly claimNames: readonly string[];

  constructor(
    private readonly headers: readonly CompiledHeader[],
    private readonly maxValueBytes: number,
  ) {
    this.names = headers.map((h) => h.name);
    const claims = new Set<string>();
    let tokens = false;
    for (const h of headers) {
      for (const p of h.pieces) {
        if (p.kind === 'token') tokens = true;
        else if (p.kind !== 'text') for (const n of topLevelNames(p.path)) claims.add(n);
      }
    }
    this.needsTokens = tokens;
    this.claimNames = [...claims];
  }

  render(input: HeaderTemplateInput): Record<string, string> {
    const out: Record<string, string> = {};
    let tokens: ReturnType<NonNullable<HeaderTemplateInput['tokens']>> | undefined;
    const tokenOf = (which: 'accessToken' | 'idToken'): string | undefined => {
      tokens ??= input.tokens?.() ?? {};
      const t = tokens[which];
      return t ? t : undefined;
    };
    for (const h of this.headers) {
      let value = '';
      let missing = false;
      for (const p of h.pieces) {
        let s: string | undefined;
        switch (p.kind) {
          case 'text':
            s = p.text;
            break;
          case 'token':
            s = tokenOf(p.which);
            break;
          case 'claim':
            s = valueText(resolve(input.claims, p.path), ',');
            break;
          case 'join':
            s = valueText(resolve(input.claims, p.path), p.separator);
            break;
          case 'default':
            s = valueText(resolve(input.claims, p.path), ',') ?? p.fallback;
            break;
        }
        if (s === undefined) {
          missing = true;
          break;
        }
        value += s;
      }
      const reason = missing ? 'missing' : this.problemOf(value);
      if (reason) {
        input.onOmitted?.(h.name, reason);
        continue;
      }
      // Node refuses header strings above U+00FF: send the UTF-8 bytes (as identity headers do).
      out[h.name] = ASCII.test(value) ? value : Buffer.from(value, 'utf8').toString('latin1');
    }
    return out;
  }

  private problemOf(value: string): OmitReason | undefined {
    if (value === '') return 'empty';
    if (CONTROL.test(value)) return 'control_character';
    if (Buffer.byteLength(value, 'utf8') > this.maxValueBytes) return 'too_long';
    return undefined;
  }
}
