// RFC 9457 problem+json bodies turned into what a person reads: one message, the messages of
// each form field (validation errors carry their location), and how long to wait after a 429.

export interface Problem {
  status?: number;
  title?: string;
  detail?: string;
  code?: string;
  errors?: { location?: string[]; message?: string }[];
}

export interface ShownProblem {
  message: string;
  fields: Record<string, string>;
  retryAfterS: number | null;
}

export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

export function showProblem(body: unknown, status: number, retryAfter: string | null,
  t: (key: string, options?: Record<string, unknown>) => string): ShownProblem {
  const problem = (body && typeof body === "object" ? body : {}) as Problem;
  const fields: Record<string, string> = {};
  for (const error of problem.errors ?? []) {
    // ["body", "email"] → "email"; the first message of a field is the one shown.
    const field = (error.location ?? []).filter((part) => part !== "body").join(".");
    if (field && !fields[field]) fields[field] = error.message ?? "";
  }
  const wait = status === 429 ? retryAfterSeconds(retryAfter) : null;
  let message = problem.detail || problem.title || t("errors.generic", { status });
  if (status === 429) message = t("errors.rateLimited", { count: wait ?? 60 });
  else if (status === 0) message = t("errors.offline");
  return { message, fields, retryAfterS: wait };
}
