// Summarises a V8 .cpuprofile (node --cpu-prof): where the server's CPU time went, by function
// (self and inclusive time) and by source file. Also a CLI: node bench/lib/profile.ts <file> [top].

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function where(url: string, line: number): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
  return `${path}:${line + 1}`;
}

function fnKey(n: ProfileNode): string {
  const f = n.callFrame;
  const loc = where(f.url, f.lineNumber);
  return loc ? `${f.functionName || '(anonymous)'} ${loc}` : f.functionName || '(anonymous)';
}

function fileKey(n: ProfileNode): string {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName || '(native)'; // (garbage collector), (program), natives
  return url.startsWith('file://') ? relative(ROOT, fileURLToPath(url)) : url;
}

function originOf(n: ProfileNode, file: string): string {
  const top = /^(src|bench|node_modules)\//.exec(file);
  if (top) return `${top[1]}/`;
  if (file.startsWith('node:')) return 'node:* internals';
  if (n.callFrame.url === '' && !file.startsWith('(')) return 'natives (syscalls, V8 builtins)';
  return file; // (program), (garbage collector)
}

export interface Summary {
  totalMs: number;
  idleMs: number;
  /** Self time by origin: src/, bench/, node_modules/, node:* internals, natives and GC. */
  origins: Record<string, number>;
  functions: Row[];
  files: Row[];
}

export function summarise(profile: CpuProfile, top = 25): Summary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fnSelf = new Map<string, number>();
  const fnTotal = new Map<string, number>();
  const fileSelf = new Map<string, number>();
  const fileTotal = new Map<string, number>();
  const origins: Record<string, number> = {};
  let total = 0;
  let idle = 0;
  const add = (m: Map<string, number>, k: string, v: number) => m.set(k, (m.get(k) ?? 0) + v);
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    const leaf = byId.get(profile.samples[i]!);
    if (!leaf) continue;
    total += dt;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    add(fnSelf, fnKey(leaf), dt);
    const file = fileKey(leaf);
    add(fileSelf, file, dt);
    const origin = originOf(leaf, file);
    origins[origin] = (origins[origin] ?? 0) + dt;
    const seenFn = new Set<string>();
    const seenFile = new Set<string>();
    for (let n: ProfileNode | undefined = leaf; n; n = byId.get(parent.get(n.id) ?? -1)) {
      seenFn.add(fnKey(n));
      seenFile.add(fileKey(n));
    }
    for (const k of seenFn) add(fnTotal, k, dt);
    for (const k of seenFile) add(fileTotal, k, dt);
  }
  const busy = total - idle;
  const rows = (self: Map<string, number>, incl: Map<string, number>) =>
    [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, s]) => {
        const t = incl.get(name) ?? s;
        return { name, selfMs: s, selfPct: (100 * s) / busy, totalMs: t, totalPct: (100 * t) / busy };
      });
  for (const k of Object.keys(origins)) origins[k] = (100 * origins[k]!) / busy;
  return {
    totalMs: total,
    idleMs: idle,
    origins,
    functions: rows(fnSelf, fnTotal),
    files: rows(fileSelf, fileTotal),
  };
}

export function formatSummary(title: string, s: Summary): string {
  const pct = (n: number) => `${n.toFixed(1)}%`;
  const lines = [
    `### ${title}: ${(s.totalMs - s.idleMs).toFixed(0)} ms busy of ${s.totalMs.toFixed(0)} ms sampled (percentages of busy time)`,
    '',
    `Self time by origin: ${Object.entries(s.origins)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${pct(v)}`)
      .join(', ')}.`,
    '',
    '| function | self | inclusive |',
    '|---|--:|--:|',
    ...s.functions.map((r) => `| \`${r.name}\` | ${pct(r.selfPct)} | ${pct(r.totalPct)} |`),
    '',
    '| file | self | inclusive |',
    '|---|--:|--:|',
    ...s.files.map((r) => `| \`${r.name}\` | ${pct(r.selfPct)} | ${pct(r.totalPct)} |`),
  ];
  return lines.join('\n');
}

export function summariseFile(path: string, top?: number): Summary {
  return summarise(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, top);
}

if (import.meta.main) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node bench/lib/profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(file, summariseFile(file, top ? Number(top) : 30))}\n`);
}
