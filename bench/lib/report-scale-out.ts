// The scale-out suites' part of the report (issue #4 "Benchmark"): token-endpoint throughput per storage
// and grant, and tools/call across two replicas beside the single-process authenticated target.
// Goals only where the issue states one: every reply correct, and a revocation on one replica refused
// by the other within one second. Throughput is reported, not judged: the issue sets no figure.

import type { LoadResult } from './load.ts';
import type { ReplicaReport } from './replicas.ts';
import type { Check, TargetReport } from './report.ts';
import type { TokenGrant, TokenReport } from './token.ts';

export interface ScaleOutResults {
  token?: TokenReport[];
  replicas?: ReplicaReport;
}

/** Issue #4 "Replicas": a revocation takes effect on every replica within one second. */
export const REVOCATION_GOAL_MS = 1000;

const GRANT_NAMES: Record<TokenGrant, string> = {
  authorization_code: 'code exchange (PKCE)',
  refresh_token: 'refresh (rotation)',
};

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const count = (n: number) => Math.round(n).toLocaleString('en-US');
const cell = (text: string) => text.split('\n')[0]!.replaceAll('|', '\\|').slice(0, 120);

export function evaluateScaleOut(results: ScaleOutResults, targets: TargetReport[]): Check[] {
  const checks: Check[] = [];
  for (const t of results.token ?? []) {
    const errors = t.results.reduce((n, r) => n + r.errors, 0);
    const verified = t.results.reduce((n, r) => n + r.requests, 0);
    checks.push({
      name: `POST /token on ${t.description}: every reply a complete token response`,
      measured: t.error ? 'failed' : `${count(verified)} verified, ${errors} errors`,
      goal: '0 errors',
      pass: !t.error && t.results.length > 0 && errors === 0,
    });
  }
  const replicas = results.replicas;
  if (!replicas) return checks;
  const dirty = replicas.results.filter((r) => r.errors > 0 || r.non2xx > 0);
  checks.push({
    name: `${replicas.description}: every response 2xx`,
    measured: replicas.error
      ? 'failed'
      : dirty.length
        ? dirty.map((r) => `@${r.connections}: ${r.errors}/${r.non2xx}`).join(', ')
        : `${count(replicas.results.reduce((n, r) => n + r.requests, 0))} responses`,
    goal: '0 errors, 0 non-2xx',
    pass: !replicas.error && replicas.results.length > 0 && dirty.length === 0,
  });
  if (replicas.revocationMs !== undefined || replicas.error) {
    const ms = replicas.revocationMs;
    checks.push({
      name: 'token revoked at replica A, refused by replica B after',
      measured:
        ms === undefined ? 'not measured' : ms === null ? 'still accepted after 5 s' : `${count(ms)} ms`,
      goal: `<= ${count(REVOCATION_GOAL_MS)} ms`,
      pass: typeof ms === 'number' && ms <= REVOCATION_GOAL_MS,
    });
  }
  const single = targets.find((t) => t.id === 'keyhole-modern-auth');
  if (single && !single.error) {
    for (const r of replicas.results) {
      const s = single.results.find((x) => x.connections === r.connections);
      if (!s) continue;
      checks.push({
        name: `two replicas / one process (keyhole-modern-auth) req/s @${r.connections}`,
        measured: `${fmt(r.rps / s.rps)}x (server CPU ${fmt(r.cpuUsPerRequest ?? Number.NaN, 1)} vs ${fmt(s.cpuUsPerRequest ?? Number.NaN, 1)} µs/req)`,
        goal: '(information)',
        pass: undefined,
      });
    }
  }
  return checks;
}

function loadRow(label: string, r: LoadResult): string {
  return `| ${label} | ${r.connections} | ${count(r.rps)} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.errors} / ${r.non2xx} | ${fmt(r.cpuUsPerRequest ?? Number.NaN, 1)} |`;
}

export function scaleOutMarkdown(results: ScaleOutResults, targets: TargetReport[]): string[] {
  const out: string[] = [];
  const token = results.token ?? [];
  if (token.length > 0) {
    out.push(
      '',
      'POST /token of a whole Keyhole (public client, closed-loop workers, each reply checked to be a complete token response; server CPU is the Keyhole process only, not PostgreSQL or Redis):',
      '',
      '| storage | grant | workers | req/s | p50 ms | p99 ms | errors | server CPU µs/req |',
      '|---|---|--:|--:|--:|--:|--:|--:|',
    );
    for (const t of token) {
      if (t.error) {
        out.push(`| ${t.description} | – | – | failed: ${cell(t.error)} | | | | |`);
        continue;
      }
      for (const r of t.results) {
        const drained = r.drained ? ` (code pool drained at ${fmt(r.durationS, 1)} s)` : '';
        out.push(
          `| ${t.description} | ${GRANT_NAMES[r.grant]} | ${r.connections} | ${count(r.rps)}${drained} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.errors} | ${fmt(r.cpuUsPerRequest ?? Number.NaN, 1)} |`,
        );
      }
    }
  }
  const replicas = results.replicas;
  if (replicas) {
    out.push(
      '',
      `Authenticated \`tools/call\` across two replicas (autocannon against both at once, connections split evenly; server CPU is both processes together)${targets.some((t) => t.id === 'keyhole-modern-auth') ? ', beside the single process of this run' : ''}:`,
      '',
      '| target | connections | req/s | p50 ms | p99 ms | errors / non-2xx | server CPU µs/req |',
      '|---|--:|--:|--:|--:|--:|--:|',
    );
    const single = targets.find((t) => t.id === 'keyhole-modern-auth' && !t.error);
    if (replicas.error) out.push(`| ${replicas.description} | – | failed: ${cell(replicas.error)} | | | | |`);
    for (const r of replicas.results) {
      out.push(loadRow(replicas.description, r));
      const s = single?.results.find((x) => x.connections === r.connections);
      if (s) out.push(loadRow(`${single!.description} (one process, SQLite)`, s));
    }
  }
  const checked = [
    ...token
      .filter((t) => t.checks.length)
      .map((t) => `POST /token on ${t.description} — checks: ${t.checks.join('; ')}.`),
    ...(replicas?.checks.length ? [`${replicas.description} — checks: ${replicas.checks.join('; ')}.`] : []),
  ];
  if (checked.length > 0) out.push('', ...checked);
  return out;
}
