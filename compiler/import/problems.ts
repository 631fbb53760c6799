/**
 * What an import found: errors (every one, so a failed import lists all unsupported layers at
 * once) and notes (what the import left out or changed, said out loud: never a silent drop).
 * Names from the file are quoted with JSON.stringify wherever they appear in a message, so a name
 * holding quotes or newlines still gives one line per problem.
 */
import { KilnError, type Diagnostic } from "../frontend/diagnostics.js";

/** Keeps a hostile file from making a list of millions of problems. */
const MAX_PROBLEMS = 200;

export class ImportProblems {
  readonly errors: Diagnostic[] = [];
  readonly notes: string[] = [];

  error(path: string, message: string, layer?: string): void {
    if (this.errors.length >= MAX_PROBLEMS) return;
    this.errors.push(layer === undefined ? { code: "import", path, message } : { code: "import", path, message, layer });
  }

  note(message: string): void {
    if (this.notes.length < MAX_PROBLEMS) this.notes.push(message);
  }

  get failed(): boolean {
    return this.errors.length > 0;
  }

  throwIfAny(): void {
    if (this.errors.length) throw new KilnError(this.errors);
  }
}

/** A value from the file as one line of text (JSON, cut at 80 characters). */
export function quote(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** `"dense_1" (Dense)`: how problems name a Keras layer. */
export function layerLabel(name: unknown, className: unknown): string {
  const cls = typeof className === "string" && /^[A-Za-z0-9_.]{1,64}$/.test(className) ? className : quote(className);
  return `${quote(name)} (${cls})`;
}

/** A plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** RFC 6901 pointer segment. */
export function seg(p: string | number): string {
  return "/" + String(p).replace(/~/g, "~0").replace(/\//g, "~1");
}
