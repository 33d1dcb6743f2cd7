// A connection URL as it may appear in a message or log line: everything but the password.

/** `url` with its password (if any) replaced by `***`; `[invalid URL]` when it does not parse. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.href;
  } catch {
    return '[invalid URL]';
  }
}
