// Goals, verdicts and the Markdown the README takes.

import type { LoadResult } from './load.ts';
import type { MemoryResult } from './memory.ts';
import { evaluateScaleOut, type ScaleOutResults, scaleOutMarkdown } from './report-scale-out.ts';
import type { TargetId } from './targets.ts';

export interface TargetReport {
  id: TargetId;
  description: string;
  /** How the verification request was answered, e.g. "HTTP 200 application/json". */
  verified?: string;
  /** What the target's own checks found (e.g. the guard's refusals), before and after the load. */
  checks?: string[];
  error?: string;
  results: LoadResult[];
}

export interface Check {
  name: string;
  measured: string;
  goal: string;
  /** undefined: shown for information, no verdict. */
  pass: boolean | undefined;
}

export const GOALS = {
  modernVsBare: 0.4,
  modernVsSdk: 6,
  /** Issue #3: authenticated tools/call >= 0.85x unauthenticated, measured back to back in one run. */
  authVsModern: 0.85,
  /** Issue #3: >= 10,000 authenticated req/s per core; the server's JavaScript runs on one core. */
  authRpsAt10: 10_000,
  p99At10Ms: 5,
  sessionBytes: 20 * 1024,
  /**
   * Throughput ratios are judged where the servers are loaded. With one connection req/s is
   * 1 / round-trip latency (client and kernel included); that row is shown without a verdict.
   */
  ratioMinConnections: 10,
} as const;

const at = (t: TargetReport | undefined, c: number) => t?.results.find((r) => r.connections === c);
const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const kb = (bytes: number) => `${fmt(bytes / 1024, 1)} KB`;

export function evaluate(
  targets: TargetReport[],
  memory: MemoryResult | { error: string } | undefined,
  scaleOut: ScaleOutResults = {},
): Check[] {
  const byId = new Map(targets.map((t) => [t.id, t]));
  const modern = byId.get('keyhole-modern');
  const checks: Check[] = [];
  const ratio = (other: TargetId, goal: number, label: string) => {
    const o = byId.get(other);
    if (!modern || !o) return;
    const levels = [...new Set([...modern.results, ...o.results].map((r) => r.connections))].sort(
      (a, b) => a - b,
    );
    if (levels.length === 0 || modern.error || o.error) {
      checks.push({
        name: `Keyhole modern / ${label} req/s`,
        measured: 'not measured',
        goal: `>= ${goal}x`,
        pass: false,
      });
    }
    for (const c of levels) {
      const m = at(modern, c);
      const b = at(o, c);
      const r = m && b ? m.rps / b.rps : Number.NaN;
      const judged = c >= GOALS.ratioMinConnections;
      checks.push({
        name: `Keyhole modern / ${label} req/s @${c}`,
        measured: `${fmt(r)}x`,
        goal: judged ? `>= ${goal}x` : `(latency-bound)`,
        pass: judged ? r >= goal : undefined,
      });
    }
  };
  ratio('bare', GOALS.modernVsBare, 'bare');
  ratio('sdk-v2', GOALS.modernVsSdk, 'SDK v2');
  checks.push(...authChecks(modern, byId.get('keyhole-modern-auth')));
  for (const id of ['keyhole-modern', 'keyhole-legacy'] as const) {
    const t = byId.get(id);
    if (!t) continue;
    const r = at(t, 10);
    if (!r && !t.error) continue; // 10 connections not in this run
    const p99 = r ? r.p99Ms : Number.NaN;
    const clean = r !== undefined && r.errors === 0 && r.non2xx === 0;
    checks.push({
      name: `${t.description}: p99 @10`,
      measured: `${fmt(p99)} ms${r && !clean ? ` (${r.errors} errors, ${r.non2xx} non-2xx)` : ''}`,
      goal: `<= ${GOALS.p99At10Ms} ms`,
      pass: clean && p99 <= GOALS.p99At10Ms,
    });
  }
  for (const t of targets) {
    const dirty = t.results.filter((r) => r.errors > 0 || r.non2xx > 0);
    if (t.error || dirty.length) {
      checks.push({
        name: `${t.description}: every response 2xx`,
        measured: t.error
          ? 'failed verification'
          : dirty.map((r) => `@${r.connections}: ${r.errors}/${r.non2xx}`).join(', '),
        goal: '0 errors, 0 non-2xx',
        pass: false,
      });
    }
  }
  if (memory) {
    if ('error' in memory) {
      checks.push({
        name: 'idle 2025-11-25 session + GET stream',
        measured: 'failed',
        goal: `<= ${kb(GOALS.sessionBytes)}`,
        pass: false,
      });
    } else {
      const complete = memory.openStreams === memory.sessions;
      checks.push({
        name: `idle 2025-11-25 session + GET stream (heap+external, ${memory.sessions} sessions)`,
        measured: `${kb(memory.heapPerSession)}${complete ? '' : ` (only ${memory.openStreams} streams stayed open)`}`,
        goal: `<= ${kb(GOALS.sessionBytes)}`,
        pass: complete && memory.heapPerSession <= GOALS.sessionBytes,
      });
    }
  }
  checks.push(...evaluateScaleOut(scaleOut, targets));
  return checks;
}

const cpu = (r: LoadResult | undefined) => fmt(r?.cpuUsPerRequest ?? Number.NaN, 1);

/**
 * Issue #3: with a bearer token (verified once, then served from the guard's cache) Keyhole keeps
 * >= 0.85x of its unauthenticated throughput and >= 10,000 req/s on its one core. Server CPU per
 * request is shown beside the ratio: on a small shared machine it is the steadier comparison.
 */
function authChecks(modern: TargetReport | undefined, auth: TargetReport | undefined): Check[] {
  if (!auth) return [];
  const checks: Check[] = [];
  if (modern) {
    const levels = [...new Set([...modern.results, ...auth.results].map((r) => r.connections))].sort(
      (a, b) => a - b,
    );
    if (levels.length === 0 || modern.error || auth.error) {
      checks.push({
        name: 'Keyhole with / without bearer token req/s',
        measured: 'not measured',
        goal: `>= ${GOALS.authVsModern}x`,
        pass: false,
      });
    }
    for (const c of levels) {
      const a = at(auth, c);
      const m = at(modern, c);
      const r = a && m ? a.rps / m.rps : Number.NaN;
      const judged = c >= GOALS.ratioMinConnections;
      checks.push({
        name: `Keyhole with / without bearer token req/s @${c}`,
        // Three digits: 0.846 must not read as a failing 0.85.
        measured: `${fmt(r, 3)}x (server CPU ${cpu(a)} vs ${cpu(m)} µs/req)`,
        goal: judged ? `>= ${GOALS.authVsModern}x` : '(latency-bound)',
        pass: judged ? r >= GOALS.authVsModern : undefined,
      });
    }
  }
  const r = at(auth, 10);
  if (r || auth.error) {
    const rps = r ? r.rps : Number.NaN;
    // What one fully busy core would serve at this CPU cost: the server-side bound, free of the load
    // generator sharing the machine.
    const perCore = r?.cpuUsPerRequest ? 1e6 / r.cpuUsPerRequest : Number.NaN;
    checks.push({
      name: 'Keyhole with bearer token req/s @10 (one server process = one core)',
      measured: `${Number.isFinite(rps) ? Math.round(rps).toLocaleString('en-US') : 'n/a'} (server CPU ${cpu(r)} µs/req = ${Number.isFinite(perCore) ? Math.round(perCore).toLocaleString('en-US') : 'n/a'} per busy core-second)`,
      goal: `>= ${GOALS.authRpsAt10.toLocaleString('en-US')}`,
      pass: rps >= GOALS.authRpsAt10,
    });
  }
  return checks;
}

export function markdown(
  env: {
    node: string;
    cpu: string;
    warmupS: number;
    durationS: number;
    rounds: number;
    loadBefore: number;
    loadAfter: number;
  },
  targets: TargetReport[],
  memory: MemoryResult | { error: string } | undefined,
  checks: Check[],
  scaleOut: ScaleOutResults = {},
): string {
  const out: string[] = [];
  const cores = Number.parseInt(env.cpu, 10) || 1;
  out.push(
    `Node ${env.node}, ${env.cpu}; the load generator (autocannon; closed-loop workers for /token) in the runner process, ` +
      `each server in its own process; \`tools/call\` of \`echo\` unless said otherwise; ${env.warmupS} s warm-up, ${env.durationS} s measured per row` +
      `${env.rounds > 1 ? `, best of ${env.rounds} rounds` : ''}; load average ${fmt(env.loadBefore)} before, ${fmt(env.loadAfter)} after.`,
  );
  if (env.loadBefore > cores / 2) {
    out.push(
      '',
      `> The machine was busy before the run (load ${fmt(env.loadBefore)} on ${cores} CPUs): numbers are unreliable.`,
    );
  }
  if (targets.length > 0) {
    out.push(
      '',
      '| target | connections | req/s | p50 ms | p99 ms | errors / non-2xx | server CPU µs/req |',
      '|---|--:|--:|--:|--:|--:|--:|',
    );
  }
  for (const t of targets) {
    if (t.error) {
      out.push(
        `| ${t.description} | – | failed: ${t.error.split('\n')[0]!.replaceAll('|', '\\|').slice(0, 120)} | | | | |`,
      );
      continue;
    }
    for (const r of t.results) {
      out.push(
        `| ${t.description} | ${r.connections} | ${Math.round(r.rps).toLocaleString('en-US')} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${r.errors} / ${r.non2xx} | ${fmt(r.cpuUsPerRequest ?? Number.NaN, 1)} |`,
      );
    }
  }
  if (memory && !('error' in memory)) {
    out.push(
      '',
      `| idle 2025-11-25 sessions with a GET SSE stream | heap+external per session | rss per session |`,
      '|--:|--:|--:|',
      `| ${memory.sessions} | ${kb(memory.heapPerSession)} | ${kb(memory.rssPerSession)} |`,
    );
  } else if (memory) {
    out.push('', `Idle-session memory: failed: ${memory.error.split('\n')[0]}`);
  }
  const checked = targets.filter((t) => t.checks?.length);
  if (checked.length > 0) {
    out.push('');
    for (const t of checked) out.push(`${t.description} — checks: ${t.checks!.join('; ')}.`);
  }
  out.push(...scaleOutMarkdown(scaleOut, targets));
  if (checks.length === 0) {
    out.push('', 'No checks: the goals compare Keyhole targets, and none ran.');
    return out.join('\n');
  }
  out.push('', '| check | measured | goal | result |', '|---|--:|--:|---|');
  for (const c of checks)
    out.push(
      `| ${c.name} | ${c.measured} | ${c.goal} | ${c.pass === undefined ? 'info' : c.pass ? 'PASS' : '**FAIL**'} |`,
    );
  return out.join('\n');
}
