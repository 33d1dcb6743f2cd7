/**
 * A deep copy with top-level `undefined` properties dropped, so records read back the same as from
 * the SQL adapters (which have no "present but undefined"). Callers never share objects with the store.
 */
export function copy<T extends object>(value: T): T {
  const out = structuredClone(value);
  for (const key of Object.keys(out) as (keyof T)[]) if (out[key] === undefined) delete out[key];
  return out;
}
