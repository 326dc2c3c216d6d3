/**
 * One shared, frozen copy of each distinct string list — a record's granted scopes, an identity's
 * groups and roles — and of each distinct string in them. A sign-in parses fresh copies of these
 * for every session (JSON.parse of the ID token, `scope.split(' ')`), often with spare capacity,
 * while the same few lists repeat across the users of one client (`npm run bench:memory`: ~250
 * bytes per session). Records are never mutated (writers replace them), so sharing is safe; the
 * frozen copies make that hold. Bounded: a full table starts over, lists already shared stay valid.
 */
export class ListInterner {
  private readonly lists = new Map<string, string[]>();
  private readonly strings = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  /** A frozen list equal to `list`, the same array as for every earlier equal list. */
  list(list: readonly string[]): string[] {
    const key = JSON.stringify(list);
    let shared = this.lists.get(key);
    if (shared === undefined) {
      if (this.lists.size >= this.max) this.lists.clear();
      shared = Object.freeze(list.map((s) => this.string(s))) as string[];
      this.lists.set(key, shared);
    }
    return shared;
  }

  private string(s: string): string {
    let shared = this.strings.get(s);
    if (shared === undefined) {
      if (this.strings.size >= this.max * 4) this.strings.clear();
      shared = s;
      this.strings.set(s, s);
    }
    return shared;
  }
}
