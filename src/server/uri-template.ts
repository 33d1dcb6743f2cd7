// RFC 6570 URI templates, as far as resource templates use them: simple `{var}`, reserved `{+var}`,
// fragment `{#var}`, path `{/var}`, label `{.var}` and query `{?a,b}` / `{&a}` expressions.
// Used to match a concrete URI against a template and to expand variables.

interface Part {
  literal?: string;
  op?: '' | '+' | '#' | '/' | '.' | '?' | '&';
  names?: string[];
}

const EXPR = /\{([+#./?&]?)([A-Za-z0-9_.%,]+)\}/g;

export class UriTemplate {
  readonly template: string;
  readonly variableNames: readonly string[];
  readonly #parts: Part[];
  readonly #regex: RegExp;
  readonly #captures: { name: string; query: boolean }[] = [];

  constructor(template: string) {
    if (template.length > 2048) throw new TypeError('URI template is too long');
    this.template = template;
    this.#parts = [];
    let last = 0;
    for (const m of template.matchAll(EXPR)) {
      if (m.index > last) this.#parts.push({ literal: template.slice(last, m.index) });
      this.#parts.push({ op: m[1] as Part['op'], names: m[2]!.split(',') });
      last = m.index + m[0].length;
    }
    if (last < template.length) this.#parts.push({ literal: template.slice(last) });
    this.variableNames = this.#parts.flatMap((p) => p.names ?? []);
    this.#regex = this.#compile();
  }

  #compile(): RegExp {
    let src = '^';
    for (const p of this.#parts) {
      if (p.literal !== undefined) {
        src += p.literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        continue;
      }
      const names = p.names!;
      switch (p.op) {
        case '?':
        case '&':
          // Query expressions are optional and matched loosely: `?a=1&b=2`.
          src += `(?:[?&]([^#]*))?`;
          this.#captures.push({ name: names.join(','), query: true });
          break;
        case '+':
        case '#':
          src += (p.op === '#' ? '#' : '') + names.map(() => '(.+?)').join(',');
          for (const n of names) this.#captures.push({ name: n, query: false });
          break;
        case '/':
          src += names.map(() => '/([^/?#]+)').join('');
          for (const n of names) this.#captures.push({ name: n, query: false });
          break;
        case '.':
          src += names.map(() => '\\.([^/?#.]+)').join('');
          for (const n of names) this.#captures.push({ name: n, query: false });
          break;
        default:
          src += names.map(() => '([^/?#,]+)').join(',');
          for (const n of names) this.#captures.push({ name: n, query: false });
      }
    }
    return new RegExp(`${src}$`);
  }

  /** Returns the variables when `uri` matches the template, otherwise undefined. */
  match(uri: string): Record<string, string> | undefined {
    const m = this.#regex.exec(uri);
    if (!m) return undefined;
    const vars: Record<string, string> = {};
    this.#captures.forEach((c, i) => {
      const raw = m[i + 1];
      if (raw === undefined) return;
      if (c.query) {
        const wanted = new Set(c.name.split(','));
        for (const [k, v] of new URLSearchParams(raw)) if (wanted.has(k)) vars[k] = v;
      } else {
        vars[c.name] = safeDecode(raw);
      }
    });
    return vars;
  }

  /** Expands the template with the given variables (simple string expansion per RFC 6570 §3.2). */
  expand(vars: Record<string, string>): string {
    let out = '';
    for (const p of this.#parts) {
      if (p.literal !== undefined) {
        out += p.literal;
        continue;
      }
      const present = p.names!.filter((n) => vars[n] !== undefined);
      if (!present.length) continue;
      const enc = (v: string) => (p.op === '+' || p.op === '#' ? encodeURI(v) : encodeURIComponent(v));
      switch (p.op) {
        case '?':
        case '&':
          out += p.op + present.map((n) => `${n}=${encodeURIComponent(vars[n]!)}`).join('&');
          break;
        case '/':
          out += present.map((n) => `/${enc(vars[n]!)}`).join('');
          break;
        case '.':
          out += present.map((n) => `.${enc(vars[n]!)}`).join('');
          break;
        case '#':
          out += `#${present.map((n) => enc(vars[n]!)).join(',')}`;
          break;
        default:
          out += present.map((n) => enc(vars[n]!)).join(',');
      }
    }
    return out;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
