// The admin console's arithmetic: how a setting's value is shown in a form field and read back
// from it (bytes as MiB, durations in seconds, the screening table), the bill's figures, and
// what the service-health report amounts to. No I/O here: these are unit-tested.

export type SettingKind = "text" | "paragraphs" | "choice" | "bytes" | "seconds" | "policy";
export type Policy = Record<string, [number, number]>;
const MIB = 1024 * 1024;

/** A setting's value as the text of its form field. */
export function toField(kind: SettingKind, value: unknown): string {
  if (kind === "bytes") return String(Math.round((Number(value) / MIB) * 100) / 100);
  if (kind === "seconds") return String(Number(value));
  return String(value ?? "");
}

/** The text of a form field as the value to send, or an error key when it is not a number. */
export function fromField(kind: SettingKind, text: string): { value: unknown } | { error: string } {
  if (kind !== "bytes" && kind !== "seconds") return { value: text };
  const number = Number(text.trim().replace(",", "."));
  if (!text.trim() || !Number.isFinite(number) || number <= 0) return { error: "admin.field.notNumber" };
  return { value: kind === "bytes" ? Math.round(number * MIB) : number };
}

/** The screening table as it is sent: every check with its hold and reject thresholds. */
export function policyFromFields(fields: Record<string, { hold: string; reject: string }>): { value: Policy } | { error: string } {
  const value: Policy = {};
  for (const [check, pair] of Object.entries(fields)) {
    const hold = Number(pair.hold.trim().replace(",", "."));
    const reject = Number(pair.reject.trim().replace(",", "."));
    if (!pair.hold.trim() || !pair.reject.trim() || !Number.isFinite(hold) || !Number.isFinite(reject)) {
      return { error: "admin.field.notNumber" };
    }
    if (hold > reject) return { error: "admin.screening.holdAboveReject" };
    value[check] = [hold, reject];
  }
  return { value };
}

export function policyToFields(policy: Policy): Record<string, { hold: string; reject: string }> {
  return Object.fromEntries(Object.entries(policy).map(([check, [hold, reject]]) =>
    [check, { hold: String(hold), reject: String(reject) }]));
}

/** A size in bytes for people: binary units, one decimal from KiB on. */
export function bytes(value: number, language: string): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  const shown = new Intl.NumberFormat(language, { maximumFractionDigits: unit ? 1 : 0 }).format(size);
  return `${shown} ${units[unit]}`;
}

export function money(value: number, language: string, currency = "USD"): string {
  return new Intl.NumberFormat(language, { style: "currency", currency, maximumFractionDigits: value < 1 ? 4 : 2 }).format(value);
}

export interface ConsumerHealth { group: string; topic: string; started: boolean; pending: number; partitions_behind: number }
export interface RoleHealth { name: string; in_this_process: boolean; consumers: ConsumerHealth[] }

/** One word per role: idle (nothing waiting), behind (records waiting), stopped (a consumer
 * group was never started although its topic has records: no worker of the role runs). */
export function roleState(role: RoleHealth): "idle" | "behind" | "stopped" {
  if (role.consumers.some((c) => !c.started && c.pending > 0)) return "stopped";
  return role.consumers.some((c) => c.pending > 0) ? "behind" : "idle";
}

export function pending(role: RoleHealth): number {
  return role.consumers.reduce((sum, c) => sum + c.pending, 0);
}

/** Whether a setting's shown value differs from what the form holds (enables "Save"). */
export function changed(kind: SettingKind, value: unknown, text: string): boolean {
  return toField(kind, value) !== text;
}
