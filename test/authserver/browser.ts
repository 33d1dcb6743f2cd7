// A small browser for tests: a cookie jar (RFC 6265, the parts our pages use), redirects followed by
// hand so every hop can be inspected, and the forms of a page parsed the way a browser submits them
// (hidden and text inputs, plus the value of the button that was pressed). No JavaScript, like the
// pages themselves.

export interface Cookie {
  name: string;
  value: string;
  /** Origin (scheme://host:port) that set it: host-only cookies. */
  origin: string;
  path: string;
  secure: boolean;
  httpOnly: boolean;
  sameSite: string | undefined;
  /** Epoch ms; undefined = session cookie. */
  expires: number | undefined;
}

/** Cookies per origin, with Max-Age / deletion, Secure only over https. Ignores Domain (host-only). */
export class CookieJar {
  readonly #cookies = new Map<string, Cookie>();

  /** Stores the Set-Cookie values of a response from `url`. */
  store(url: URL, setCookies: readonly string[], now = Date.now()): void {
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const cookie: Cookie = {
        name: pair.slice(0, eq).trim(),
        value: pair.slice(eq + 1).trim(),
        origin: url.origin,
        path: '/',
        secure: false,
        httpOnly: false,
        sameSite: undefined,
        expires: undefined,
      };
      for (const attr of attrs) {
        const [k = '', v = ''] = attr.split('=').map((s) => s.trim());
        const key = k.toLowerCase();
        if (key === 'path') cookie.path = v || '/';
        else if (key === 'secure') cookie.secure = true;
        else if (key === 'httponly') cookie.httpOnly = true;
        else if (key === 'samesite') cookie.sameSite = v;
        else if (key === 'max-age') cookie.expires = now + Number(v) * 1000;
      }
      // RFC 6265bis §4.1.3: a Secure cookie is only set from a secure origin; __Host- needs Secure and Path=/.
      if (cookie.secure && url.protocol !== 'https:') continue;
      if (cookie.name.startsWith('__Host-') && (!cookie.secure || cookie.path !== '/')) continue;
      const key = `${cookie.origin} ${cookie.name}`;
      if (cookie.expires !== undefined && cookie.expires <= now) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  /** The Cookie header for a request to `url`, or undefined when no cookie applies. */
  header(url: URL, now = Date.now()): string | undefined {
    const pairs: string[] = [];
    for (const c of this.#cookies.values()) {
      if (c.origin !== url.origin || !url.pathname.startsWith(c.path)) continue;
      if (c.expires !== undefined && c.expires <= now) continue;
      if (c.secure && url.protocol !== 'https:') continue;
      pairs.push(`${c.name}=${c.value}`);
    }
    return pairs.length ? pairs.join('; ') : undefined;
  }

  get(origin: string, name: string): Cookie | undefined {
    return this.#cookies.get(`${origin} ${name}`);
  }

  all(): Cookie[] {
    return [...this.#cookies.values()];
  }

  clear(): void {
    this.#cookies.clear();
  }
}

export interface FormButton {
  name: string | undefined;
  value: string;
  label: string;
}

export interface Form {
  method: 'GET' | 'POST';
  action: URL;
  /** Successful controls (hidden, text, password inputs), in document order. */
  fields: [string, string][];
  buttons: FormButton[];
}

export interface Page {
  url: URL;
  status: number;
  headers: Headers;
  body: string;
  /** For a 3xx: where it points, resolved against the page URL. */
  location: URL | undefined;
  setCookies: string[];
  forms: Form[];
}

export interface BrowserOptions {
  /** Headers sent with every request (a browser's Accept by default). */
  headers?: Record<string, string>;
}

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

export class Browser {
  readonly jar = new CookieJar();
  readonly #headers: Record<string, string>;

  constructor(options: BrowserOptions = {}) {
    this.#headers = { accept: BROWSER_ACCEPT, ...options.headers };
  }

  /** One request, no redirect followed. */
  async request(
    url: string | URL,
    init: { method?: string; body?: URLSearchParams; headers?: Record<string, string> } = {},
  ): Promise<Page> {
    const target = new URL(url);
    const headers: Record<string, string> = { ...this.#headers, ...init.headers };
    const cookie = this.jar.header(target);
    if (cookie !== undefined) headers.cookie = cookie;
    if (init.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(target, {
      method: init.method ?? 'GET',
      headers,
      redirect: 'manual',
      ...(init.body !== undefined ? { body: init.body.toString() } : {}),
    });
    const setCookies = res.headers.getSetCookie();
    this.jar.store(target, setCookies);
    const body = await res.text();
    const location = res.headers.get('location');
    return {
      url: target,
      status: res.status,
      headers: res.headers,
      body,
      location: location === null ? undefined : new URL(location, target),
      setCookies,
      forms: parseForms(body, target),
    };
  }

  get(url: string | URL, headers?: Record<string, string>): Promise<Page> {
    return this.request(url, headers ? { headers } : {});
  }

  /**
   * Navigates to `url` and follows redirects within its origin (up to `max`). Stops at the first
   * non-redirect, or at a redirect to another origin (the client's redirect URI), which it returns.
   */
  async navigate(url: string | URL, max = 5): Promise<Page> {
    let page = await this.get(url);
    for (let i = 0; i < max && isRedirect(page) && page.location!.origin === page.url.origin; i++) {
      page = await this.get(page.location!);
    }
    return page;
  }

  /**
   * Submits a form of `page` the way a browser does: its fields, changed or added by `fields`, plus the
   * pressed button's name and value (`button`: its value, e.g. 'approve'; default: the first button).
   */
  submit(
    page: Page,
    options: {
      form?: number;
      fields?: Record<string, string>;
      button?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<Page> {
    const form = page.forms[options.form ?? 0];
    if (form === undefined)
      throw new Error(`no form on ${page.url.href} (status ${page.status}):\n${page.body}`);
    const body = new URLSearchParams();
    const overrides = new Map(Object.entries(options.fields ?? {}));
    for (const [name, value] of form.fields) {
      if (overrides.has(name)) {
        body.append(name, overrides.get(name)!);
        overrides.delete(name);
      } else body.append(name, value);
    }
    for (const [name, value] of overrides) body.append(name, value);
    const button =
      options.button === undefined ? form.buttons[0] : form.buttons.find((b) => b.value === options.button);
    if (options.button !== undefined && button === undefined)
      throw new Error(`no button "${options.button}"`);
    if (button?.name !== undefined) body.append(button.name, button.value);
    // What a browser sends with a same-origin form submission (Fetch Metadata, Origin).
    const headers = { 'sec-fetch-site': 'same-origin', origin: page.url.origin, ...options.headers };
    if (form.method === 'GET') {
      const target = new URL(form.action);
      target.search = body.toString();
      return this.request(target, { headers });
    }
    return this.request(form.action, { method: 'POST', body, headers });
  }
}

export function isRedirect(page: Page): boolean {
  return page.status >= 300 && page.status < 400 && page.location !== undefined;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", apos: "'" };

/** Decodes the character references our pages (and most) use in attribute values and text. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, ref: string) => {
    if (ENTITIES[ref] !== undefined) return ENTITIES[ref];
    if (ref.startsWith('#x') || ref.startsWith('#X'))
      return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(Number(ref.slice(1)));
    return whole;
  });
}

function attributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  // Skip the tag name itself.
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) {
    attrs.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

/** The forms of an HTML document (enough HTML for server-rendered pages; not a general parser). */
export function parseForms(html: string, base: URL): Form[] {
  const forms: Form[] = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const open = /^<form\b[^>]*>/i.exec(m[0])![0];
    const attrs = attributes(open);
    const method = (attrs.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET';
    const action = new URL(attrs.get('action') || base.href, base);
    const fields: [string, string][] = [];
    const buttons: FormButton[] = [];
    const inner = m[1]!;
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const a = attributes(input[0]);
      const name = a.get('name');
      const type = (a.get('type') ?? 'text').toLowerCase();
      if (name === undefined || a.has('disabled')) continue;
      if (type === 'submit') buttons.push({ name, value: a.get('value') ?? '', label: a.get('value') ?? '' });
      else if (type !== 'checkbox' && type !== 'radio' && type !== 'button' && type !== 'reset') {
        fields.push([name, a.get('value') ?? '']);
      }
    }
    for (const b of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const a = attributes(`<button${b[1]}>`);
      const type = (a.get('type') ?? 'submit').toLowerCase();
      if (type !== 'submit') continue;
      buttons.push({
        name: a.get('name'),
        value: a.get('value') ?? '',
        label: decodeEntities(b[2]!.replace(/<[^>]*>/g, '').trim()),
      });
    }
    forms.push({ method, action, fields, buttons });
  }
  return forms;
}

/** The text of a page without tags (for assertions on what a person reads). */
export function visibleText(html: string): string {
  return decodeEntities(
    html
      .replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, '')
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim(),
  );
}
