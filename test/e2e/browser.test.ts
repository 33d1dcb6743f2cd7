// Keyhole's sign-in and consent pages in a real browser: Debian's Chromium, driven by playwright-core.
// The fetch-based test browser (test/authserver/browser.ts) cannot see what only a browser enforces:
// the pages' Content-Security-Policy (the inline style allowed by its hash, CSP3 §8.3; `form-action`,
// which Chromium also applies to the redirect answering the consent POST; `frame-ancestors 'none'`),
// how the browser stores and sends the cookies (HttpOnly, SameSite=Lax, Path=/, host-only, the
// `__Host-` prefix with Secure), and that the pages need no JavaScript. An MCP client in Node finds
// the server from the 401 (RFC 9728 → RFC 8414), registers (RFC 7591) with a loopback redirect URI
// (RFC 8252 §7.3) served by this test, and hands the authorization URL to Chromium; what comes back to
// the callback is exchanged in Node and the token calls a tool.
//
// Every page is watched for console errors and warnings, CDP log entries, DevTools issues (CSP and
// cookie problems) and — with JavaScript on — `securitypolicyviolation` events from a listener that
// playwright injects over CDP (not subject to the page's CSP: the canary test proves each detector
// fires). Chromium must be installed (`apt-get install chromium`); without it the tests fail.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { escapeHtml } from '../../src/authserver/ui/html.ts';
import {
  addUser,
  assertNotLogged,
  callTool,
  exchangeCode,
  PASSWORD,
  pkce,
  type RunningKeyhole,
  registerClient,
  startKeyhole,
} from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';
// No internet here: without the background-networking flags Chromium floods refused connections.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Per action and navigation: a broken page fails in seconds, not at playwright's 30 s default. */
const STEP_TIMEOUT_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// The client's side: a loopback redirect URI that records what the browser brings back, and the
// pages another site would serve (a link to Keyhole, a frame around it, a CSP canary)

interface ClientSite {
  /** http://127.0.0.1:port — the redirect URI's origin. */
  readonly origin: string;
  /** http://localhost:port — the same server as another site (a different host is a different site). */
  readonly otherSite: string;
  readonly redirectUri: string;
  /** Every callback request's URL, in order. */
  readonly callbacks: URL[];
  close(): Promise<void>;
}

/** A CSP whose style hash does not match the page's inline style: the detectors must report it. */
const CANARY_CSP = `default-src 'none'; style-src 'sha256-${Buffer.alloc(32).toString('base64')}'`;

async function startClientSite(): Promise<ClientSite> {
  const callbacks: URL[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    const target = escapeHtml(url.searchParams.get('target') ?? '');
    const send = (body: string, headers: Record<string, string> = {}) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', ...headers });
      // An empty icon: no /favicon.ico request whose 404 the browser would report.
      res.end(
        `<!doctype html><html lang="en"><head><title>client</title><link rel="icon" href="data:,"></head><body>${body}</body></html>`,
      );
    };
    if (url.pathname === '/callback') {
      callbacks.push(url);
      send('<p>Signed in. You can close this window.</p>');
    } else if (url.pathname === '/link') send(`<a id="go" href="${target}">Connect</a>`);
    else if (url.pathname === '/frame') send(`<iframe title="framed" src="${target}"></iframe>`);
    else if (url.pathname === '/script') send("<script>document.title = 'script ran';</script>");
    else if (url.pathname === '/canary')
      send('<style>p{color:red}</style><p>canary</p>', { 'content-security-policy': CANARY_CSP });
    else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    otherSite: `http://localhost:${port}`,
    redirectUri: `http://127.0.0.1:${port}/callback`,
    callbacks,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The MCP client in Node

interface AuthorizationServerMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  registration_endpoint: string;
  code_challenge_methods_supported: string[];
}

interface McpClient {
  readonly clientId: string;
  readonly as: AuthorizationServerMetadata;
  /** What the 401 challenge asked for (MCP authorization: scope selection from WWW-Authenticate). */
  readonly scope: string;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  assert.equal(res.status, 200, `GET ${url}`);
  return (await res.json()) as T;
}

/** 401 on /mcp → protected-resource metadata (RFC 9728) → AS metadata (RFC 8414) → registration. */
async function discoverAndRegister(k: RunningKeyhole, site: ClientSite): Promise<McpClient> {
  const refused = await callTool(k, undefined, 'whoami');
  await refused.arrayBuffer();
  assert.equal(refused.status, 401);
  const challenge = refused.headers.get('www-authenticate') ?? '';
  // RFC 9728 §5.1: the challenge names the resource metadata.
  const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
  const scope = /scope="([^"]+)"/.exec(challenge)?.[1];
  assert.ok(metadataUrl && scope, `challenge: ${challenge}`);
  const resource = await getJson<{ resource: string; authorization_servers: string[] }>(metadataUrl);
  assert.equal(resource.resource, k.mcpUrl.href);
  const issuer = resource.authorization_servers[0];
  assert.ok(issuer);
  // RFC 8414 §3.1: the well-known URI of an issuer without a path component.
  const as = await getJson<AuthorizationServerMetadata>(`${issuer}/.well-known/oauth-authorization-server`);
  assert.equal(as.issuer, issuer, 'RFC 8414 §3.3: the issuer is the one the metadata was fetched for');
  assert.ok(as.code_challenge_methods_supported.includes('S256'));
  // registerClient posts to the issuer's /register: the endpoint the metadata names.
  assert.equal(as.registration_endpoint, `${k.issuer}/register`);
  return { clientId: await registerClient(k, site.redirectUri), as, scope };
}

interface AuthorizationRequest {
  readonly url: string;
  readonly state: string;
  readonly verifier: string;
}

/** RFC 6749 §4.1.1 with PKCE S256 (RFC 7636 §4.3), state, and the resource (RFC 8707). */
function authorizationRequest(k: RunningKeyhole, site: ClientSite, client: McpClient): AuthorizationRequest {
  const { verifier, challenge } = pkce();
  const state = randomBytes(16).toString('base64url');
  const url = new URL(client.as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: site.redirectUri,
    scope: client.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource: k.mcpUrl.href,
  }).toString();
  return { url: url.href, state, verifier };
}

/** The code exchange in Node, then the token calls a tool that needs the approved scope: 200. */
async function redeemAndCall(
  k: RunningKeyhole,
  site: ClientSite,
  client: McpClient,
  request: AuthorizationRequest,
  callback: URL,
): Promise<string> {
  const code = callback.searchParams.get('code');
  assert.ok(code, `no code in ${callback.href}`);
  const tokens = await exchangeCode(k, {
    code,
    verifier: request.verifier,
    clientId: client.clientId,
    redirectUri: site.redirectUri,
  });
  assert.equal(tokens.scope, client.scope);
  const res = await callTool(k, tokens.access_token, 'whoami');
  assert.equal(res.status, 200);
  const body = (await res.json()) as { result: { structuredContent: { subject: string; clientId: string } } };
  assert.equal(body.result.structuredContent.clientId, client.clientId);
  assertNotLogged(k, [PASSWORD, code, request.verifier, tokens.access_token, tokens.refresh_token]);
  return body.result.structuredContent.subject;
}

// ---------------------------------------------------------------------------------------------
// The browser side

/** What the browser reported while a page was open, by detector. */
interface Reports {
  /** Console messages of level error or warning (CSP violations among them). */
  readonly console: string[];
  /** CDP `Log.entryAdded` entries of level error or warning (also with JavaScript off). */
  readonly log: string[];
  /** CDP `Audits.issueAdded`: DevTools issues (CSP, cookies, mixed content, …). */
  readonly issues: string[];
  /** `securitypolicyviolation` events (JavaScript on only). */
  readonly violations: string[];
  readonly pageErrors: string[];
}

function allReports(r: Reports): string[] {
  return [...r.console, ...r.log, ...r.issues, ...r.violations, ...r.pageErrors];
}

const VIOLATION_BINDING = '__keyholeCspViolation';
// Injected by CDP (Page.addScriptToEvaluateOnNewDocument): runs before the page's own content and is
// not subject to its CSP, so it sees violations even on a page with `default-src 'none'`.
const VIOLATION_LISTENER = `document.addEventListener('securitypolicyviolation', (e) => {
  globalThis.${VIOLATION_BINDING}(e.effectiveDirective + ' blocked ' + e.blockedURI + ' on ' + e.documentURI);
}, true);`;

interface Tab {
  readonly context: BrowserContext;
  readonly page: Page;
  readonly reports: Reports;
}

/** A fresh browser context (no cookies) with one watched page. */
async function openTab(browser: Browser, options: { javaScript: boolean }): Promise<Tab> {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScript, colorScheme: 'light' });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const reports: Reports = { console: [], log: [], issues: [], violations: [], pageErrors: [] };
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning')
      reports.console.push(`${m.type()}: ${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (e) => reports.pageErrors.push(e.message));
  const cdp = await context.newCDPSession(page);
  cdp.on('Log.entryAdded', ({ entry }) => {
    if (entry.level === 'error' || entry.level === 'warning')
      reports.log.push(`${entry.level} (${entry.source}): ${entry.text} (${entry.url ?? ''})`);
  });
  cdp.on('Audits.issueAdded', ({ issue }) => {
    // This test's own `document.cookie` read (proving HttpOnly) is flagged as a performance hint.
    if (issue.details.performanceIssueDetails?.performanceIssueType === 'DocumentCookie') return;
    reports.issues.push(`${issue.code}: ${JSON.stringify(issue.details)}`);
  });
  await cdp.send('Log.enable');
  await cdp.send('Audits.enable');
  if (options.javaScript) {
    await page.exposeBinding(VIOLATION_BINDING, (_source, text: string) => reports.violations.push(text));
    await page.addInitScript({ content: VIOLATION_LISTENER });
  }
  return { context, page, reports };
}

function assertQuiet(tab: Tab, where: string): void {
  assert.deepEqual(allReports(tab.reports), [], `the browser reported problems ${where}`);
}

/**
 * The page's stylesheet is in force: the `<style>` was allowed by its CSP hash (a blocked one leaves
 * the user agent's defaults: no max-width, square corners, a grey button).
 */
async function assertStyled(page: Page): Promise<void> {
  const main = await page.locator('main').evaluate((el) => {
    const s = getComputedStyle(el);
    return { maxWidth: s.maxWidth, radius: s.borderTopLeftRadius };
  });
  assert.deepEqual(main, { maxWidth: '448px', radius: '12px' }, 'main is styled (28rem, 12px corners)');
  const primary = await page.locator('button.primary').evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(primary, 'rgb(11, 92, 173)', 'the primary button has the accent colour (light scheme)');
}

/** The login page as rendered: fields found by their labels, as a person finds them. */
async function signIn(page: Page, username: string, password: string): Promise<void> {
  assert.equal(await page.title(), 'Sign in');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function onConsentPage(page: Page): Promise<void> {
  await page.getByRole('heading', { name: /^Authorize / }).waitFor();
}

/** Waits until the browser is at the client's callback; returns the URL it landed on. */
async function atCallback(page: Page, site: ClientSite): Promise<URL> {
  await page.waitForURL((u) => u.origin === site.origin && u.pathname === '/callback');
  return new URL(page.url());
}

interface BrowserCookie {
  name: string;
  domain: string;
  path: string;
  expires: number;
  httpOnly: boolean;
  secure: boolean;
  sameSite: string;
}

/** The cookies the browser holds for Keyhole, without values, sorted by name. */
async function keyholeCookies(context: BrowserContext, k: RunningKeyhole): Promise<BrowserCookie[]> {
  const cookies = await context.cookies(k.issuer);
  return cookies
    .map(({ name, domain, path, expires, httpOnly, secure, sameSite }) => ({
      name,
      domain,
      path,
      expires,
      httpOnly,
      secure,
      sameSite,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * What src/authserver/browser-session.ts intends: HttpOnly, Path=/, SameSite=Lax, host-only (no Domain,
 * so the browser records the exact host), Secure and the `__Host-` prefix when secure cookies are on;
 * the CSRF cookie lives as long as the browser session, the sign-in cookie `loginSessionTtlSec`.
 */
function assertIntendedCookies(
  cookies: BrowserCookie[],
  options: { secure: boolean; sessionTtlSec: number; signedInAt: number },
): void {
  const prefix = options.secure ? '__Host-' : '';
  const common = { domain: '127.0.0.1', path: '/', httpOnly: true, secure: options.secure, sameSite: 'Lax' };
  const session = cookies.find((c) => c.name === `${prefix}keyhole-session`);
  assert.ok(session, `a sign-in cookie: ${JSON.stringify(cookies)}`);
  const expected = options.signedInAt / 1000 + options.sessionTtlSec;
  // Max-Age counts from when the browser received it, a moment after `signedInAt`.
  assert.ok(
    session.expires >= expected - 1 && session.expires <= expected + 60,
    `the sign-in cookie lasts loginSessionTtlSec (${session.expires} vs ${expected})`,
  );
  assert.deepEqual(cookies, [
    { name: `${prefix}keyhole-csrf`, ...common, expires: -1 },
    { name: `${prefix}keyhole-session`, ...common, expires: session.expires },
  ]);
}

// ---------------------------------------------------------------------------------------------

describe('login and consent pages in Chromium', () => {
  let browser: Browser | undefined;
  let k: RunningKeyhole;
  let site: ClientSite;
  let aliceId: string;
  const artifacts = mkdtempSync(join(tmpdir(), 'keyhole-browser-'));
  let failed = false;

  before(async () => {
    // Fail, never skip: a missing browser must not turn these checks silently off.
    assert.ok(
      existsSync(CHROMIUM),
      `Chromium is missing at ${CHROMIUM}: install Debian's package with \`apt-get install chromium\` (.ci/run does)`,
    );
    site = await startClientSite();
    k = await startKeyhole();
    aliceId = (await addUser(k, 'alice')).id;
    try {
      // A fresh temporary profile per launch; every test opens its own context (no shared cookies).
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    } catch (err) {
      assert.fail(`Chromium at ${CHROMIUM} did not start (apt-get install chromium): ${String(err)}`);
    }
  });
  afterEach((t) => {
    // TestContext#passed (Node ≥ 21.7) is not in @types/node yet.
    if ((t as { passed?: boolean }).passed === false) failed = true;
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await k?.stop({ remove: true });
    // The consent-page screenshot is kept for debugging when a test failed.
    if (failed) console.log(`# browser test artifacts kept in ${artifacts}`);
    else rmSync(artifacts, { recursive: true, force: true });
  });

  function chrome(): Browser {
    assert.ok(browser, 'Chromium is running');
    return browser;
  }

  test('the detectors work: a blocked inline style is reported (canary), with JavaScript on and off', async () => {
    const on = await openTab(chrome(), { javaScript: true });
    const off = await openTab(chrome(), { javaScript: false });
    try {
      // "JavaScript off" is real: a page's script runs in one tab only.
      for (const tab of [on, off]) await tab.page.goto(`${site.origin}/script`);
      assert.equal(await on.page.title(), 'script ran');
      assert.equal(await off.page.title(), 'client');

      for (const tab of [on, off]) await tab.page.goto(`${site.origin}/canary`);
      // Reports arrive asynchronously; wait for every detector.
      const reported = (r: Reports) => r.console.length > 0 && r.log.length > 0 && r.issues.length > 0;
      await waitFor(() => reported(on.reports) && reported(off.reports) && on.reports.violations.length > 0);
      for (const tab of [on, off]) {
        assert.match(tab.reports.console.join('\n'), /style-src/, 'console');
        assert.match(tab.reports.log.join('\n'), /style-src/, 'CDP log');
        assert.match(tab.reports.issues.join('\n'), /ContentSecurityPolicyIssue/, 'DevTools issue');
      }
      // The listener playwright injects over CDP runs on a page whose CSP is `default-src 'none'`.
      assert.match(on.reports.violations.join('\n'), /^style-src-elem blocked inline on /m, 'event listener');
    } finally {
      await on.context.close();
      await off.context.close();
    }
  });

  test('an MCP client authorizes through the pages: sign in, consent, code at the loopback callback, tool call', async () => {
    const client = await discoverAndRegister(k, site);
    const request = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: true });
    const { page, context } = tab;
    try {
      const login = await page.goto(request.url);
      assert.equal(login?.status(), 200);
      assert.equal(
        await page.getByRole('heading', { level: 1 }).textContent(),
        `Sign in to ${new URL(k.issuer).host}`,
      );
      await assertStyled(page);
      const signedInAt = Date.now();
      await signIn(page, 'alice', PASSWORD);

      await onConsentPage(page);
      assert.equal(new URL(page.url()).origin, k.issuer, 'the consent page is Keyhole’s');
      // The requested scopes, the client, and where the answer goes are shown.
      assert.deepEqual(await page.locator('dd li code').allTextContents(), client.scope.split(' '));
      assert.equal(await page.locator('.host').textContent(), new URL(site.origin).host);
      assert.ok((await page.locator('dd code').allTextContents()).includes(client.clientId));
      await assertStyled(page);

      // The cookies as the browser stored them, and script cannot read them (HttpOnly).
      assertIntendedCookies(await keyholeCookies(context, k), {
        secure: false,
        sessionTtlSec: k.keyhole.auth!.context!.config.loginSessionTtlSec,
        signedInAt,
      });
      assert.equal(await page.evaluate('document.cookie'), '');
      await page.screenshot({ path: join(artifacts, 'consent.png'), fullPage: true });

      // The POST answers 303 to the client's origin: form-action must allow it (Chromium checks redirects).
      const seen = site.callbacks.length;
      await page.getByRole('button', { name: 'Approve' }).click();
      const callback = await atCallback(page, site);
      assert.equal(callback.searchParams.get('state'), request.state);
      assert.equal(callback.searchParams.get('iss'), k.issuer, 'RFC 9207 §2');
      assert.deepEqual(
        site.callbacks.slice(seen).map((u) => u.href),
        [callback.href],
        'the callback server got exactly this request',
      );
      assertQuiet(tab, 'from /authorize to the callback');

      assert.equal(await redeemAndCall(k, site, client, request, callback), aliceId);
    } finally {
      await context.close();
    }
  });

  test('with JavaScript off the pages work the same: plain forms, styled, nothing reported', async () => {
    const client = await discoverAndRegister(k, site);
    const request = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: false });
    try {
      await tab.page.goto(request.url);
      await assertStyled(tab.page);
      await signIn(tab.page, 'alice', PASSWORD);
      await onConsentPage(tab.page);
      await assertStyled(tab.page);
      await tab.page.getByRole('button', { name: 'Approve' }).click();
      const callback = await atCallback(tab.page, site);
      assert.equal(callback.searchParams.get('state'), request.state);
      assertQuiet(tab, 'with JavaScript off');
      assert.equal(await redeemAndCall(k, site, client, request, callback), aliceId);
    } finally {
      await tab.context.close();
    }
  });

  test('SameSite=Lax: back from another site, a signed-in person is not asked again; a new browser signs in and goes straight to the client', async () => {
    const client = await discoverAndRegister(k, site);
    const first = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: true });
    try {
      await tab.page.goto(first.url);
      await signIn(tab.page, 'alice', PASSWORD);
      await onConsentPage(tab.page);
      await tab.page.getByRole('button', { name: 'Approve' }).click();
      await atCallback(tab.page, site);

      // A cross-site top-level navigation (localhost is another site than 127.0.0.1) carries the Lax
      // session cookie; consent is remembered, so /authorize answers with the code at once.
      const second = authorizationRequest(k, site, client);
      await tab.page.goto(`${site.otherSite}/link?target=${encodeURIComponent(second.url)}`);
      await tab.page.locator('#go').click();
      const callback = await atCallback(tab.page, site);
      assert.equal(callback.searchParams.get('state'), second.state);
      assertQuiet(tab, 'when coming back from another site');
      await redeemAndCall(k, site, client, second, callback);
    } finally {
      await tab.context.close();
    }

    // No session in a new browser: the login POST itself is answered with the redirect to the client,
    // so the login page's form-action must allow the client's origin too.
    const third = authorizationRequest(k, site, client);
    const fresh = await openTab(chrome(), { javaScript: true });
    try {
      await fresh.page.goto(third.url);
      await signIn(fresh.page, 'alice', PASSWORD);
      const callback = await atCallback(fresh.page, site);
      assert.equal(callback.searchParams.get('state'), third.state);
      assertQuiet(fresh, 'when the login POST redirects to the client');
      await redeemAndCall(k, site, client, third, callback);
    } finally {
      await fresh.context.close();
    }
  });

  test('a wrong password shows the error on the page and nothing reaches the client', async () => {
    const client = await discoverAndRegister(k, site);
    const request = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: true });
    try {
      const seen = site.callbacks.length;
      await tab.page.goto(request.url);
      await signIn(tab.page, 'alice', 'not the password');
      const alert = tab.page.getByRole('alert');
      await alert.waitFor();
      assert.equal(await alert.textContent(), 'Incorrect username or password.');
      assert.equal(await tab.page.title(), 'Sign in');
      assert.equal(new URL(tab.page.url()).origin, k.issuer, 'still on Keyhole');
      assert.equal(await tab.page.getByLabel('Username').inputValue(), 'alice', 'the username is kept');
      assert.equal(await tab.page.getByLabel('Password').inputValue(), '', 'the password is not');
      await assertStyled(tab.page);
      assert.equal(site.callbacks.length, seen, 'no request reached the callback');
      assert.deepEqual(await keyholeCookies(tab.context, k).then((cs) => cs.map((c) => c.name)), [
        'keyhole-csrf',
      ]);
      // The one report: the page came with its 400 status (RFC 6749 has no rule here; 400 tells the
      // browser this was not a success), which Chromium logs for the document.
      const status = `Failed to load resource: the server responded with a status of 400 (Bad Request) (${k.issuer}/login)`;
      assert.deepEqual(allReports(tab.reports), [`error: ${status}`, `error (network): ${status}`]);

      // The page works for the next attempt.
      await signIn(tab.page, 'alice', PASSWORD);
      await onConsentPage(tab.page);
    } finally {
      await tab.context.close();
    }
  });

  test('Deny lands on the callback with error=access_denied and the state (RFC 6749 §4.1.2.1)', async () => {
    const client = await discoverAndRegister(k, site);
    const request = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: true });
    try {
      await tab.page.goto(request.url);
      await signIn(tab.page, 'alice', PASSWORD);
      await onConsentPage(tab.page);
      await tab.page.getByRole('button', { name: 'Deny' }).click();
      const callback = await atCallback(tab.page, site);
      assert.equal(callback.searchParams.get('error'), 'access_denied');
      assert.equal(callback.searchParams.get('state'), request.state);
      assert.equal(callback.searchParams.get('iss'), k.issuer);
      assert.equal(callback.searchParams.get('code'), null);
      assertQuiet(tab, 'on Deny');
      assert.equal(await k.storage.consents.get(aliceId, client.clientId, site.redirectUri), undefined);
    } finally {
      await tab.context.close();
    }
  });

  test("the pages refuse to be framed (frame-ancestors 'none'): a signed-in person's consent page does not render in another origin's frame", async () => {
    const client = await discoverAndRegister(k, site);
    const request = authorizationRequest(k, site, client);
    const tab = await openTab(chrome(), { javaScript: true });
    try {
      // Signed in, consent not given: /authorize would render the consent page (the clickjacking target).
      await tab.page.goto(request.url);
      await signIn(tab.page, 'alice', PASSWORD);
      await onConsentPage(tab.page);
      assertQuiet(tab, 'before framing');

      // Another origin on the same site: the Lax cookies would go along with the frame's request.
      const refused = tab.page.waitForEvent('console', {
        predicate: (m) => m.type() === 'error' && m.text().includes("frame-ancestors 'none'"),
      });
      await tab.page.goto(`${site.origin}/frame?target=${encodeURIComponent(request.url)}`);
      const message = await refused;
      assert.match(message.text(), new RegExp(`^Framing '${k.issuer}/' violates`));
      const frames = tab.page.frames().filter((f) => f !== tab.page.mainFrame());
      assert.equal(frames.length, 1);
      assert.equal(
        frames[0]!.url(),
        'chrome-error://chromewebdata/',
        'the frame shows the browser’s error page',
      );
      for (const frame of tab.page.frames()) {
        assert.equal(await frame.getByRole('button', { name: 'Approve' }).count(), 0);
      }
      // Only the refusal was reported.
      for (const line of allReports(tab.reports)) assert.match(line, /frame-ancestors|FrameAncestors/i);
    } finally {
      await tab.context.close();
    }
  });

  describe('with secure cookies (as over https)', () => {
    let secure: RunningKeyhole;
    before(async () => {
      // Chromium treats http://127.0.0.1 as a secure context: it stores and sends Secure and
      // __Host- cookies there as it would over https.
      secure = await startKeyhole({ env: { KEYHOLE_SECURE_COOKIES: 'true' } });
      await addUser(secure, 'alice');
    });
    after(() => secure?.stop({ remove: true }));

    test('the __Host- cookies are accepted (Secure, Path=/, no Domain) and carry the flow', async () => {
      const client = await discoverAndRegister(secure, site);
      const request = authorizationRequest(secure, site, client);
      const tab = await openTab(chrome(), { javaScript: true });
      try {
        await tab.page.goto(request.url);
        const signedInAt = Date.now();
        await signIn(tab.page, 'alice', PASSWORD);
        await onConsentPage(tab.page);
        assertIntendedCookies(await keyholeCookies(tab.context, secure), {
          secure: true,
          sessionTtlSec: secure.keyhole.auth!.context!.config.loginSessionTtlSec,
          signedInAt,
        });
        await tab.page.getByRole('button', { name: 'Approve' }).click();
        const callback = await atCallback(tab.page, site);
        assert.equal(callback.searchParams.get('state'), request.state);
        assertQuiet(tab, 'with secure cookies');
        await redeemAndCall(secure, site, client, request, callback);
      } finally {
        await tab.context.close();
      }
    });
  });
});

/** Polls `ready` every 20 ms for up to two seconds. */
async function waitFor(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !ready(); i++) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(ready(), 'the browser reported in time');
}
