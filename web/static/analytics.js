// The creator analytics page: sign in (or reuse the session kept in localStorage), pick the whole
// channel or one of your clips, and chart what GET /v1/creators/me/analytics[/clips/{id}]
// answers. The URL keeps the choice (?clip=<id>&days=<n>) so a view can be bookmarked.
import { renderReport } from "./analytics-charts.js";

const SESSION_KEY = "clipfeed.session";
const $ = (selector) => document.querySelector(selector);
const ui = {
  message: $("#message"), signin: $("#signin"), dashboard: $("#dashboard"), who: $("#who"), handle: $("#handle"),
  clip: $("#clip"), days: $("#days"), period: $("#period"), loading: $("#loading"), report: $("#report"),
  scope: $("#scope"), totals: $("#totals"), figures: $("#charts"),
};
const state = { session: readSession(), me: null, clips: [], charts: {}, ticket: 0 };
window.clipfeedAnalytics = state;

class ApiError extends Error {
  constructor(status, message, problem = null) {
    super(message);
    this.status = status;
    this.problem = problem;
  }
}

function readSession() {
  try {
    const saved = JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.access_token === "string" ? saved : null;
  } catch {
    return null;
  }
}

function keepSession(pair) {
  state.session = pair ? { access_token: pair.access_token, refresh_token: pair.refresh_token } : null;
  if (state.session) localStorage.setItem(SESSION_KEY, JSON.stringify(state.session));
  else localStorage.removeItem(SESSION_KEY);
}

function showMessage(text) {
  ui.message.textContent = text || "";
}

// An RFC 9457 problem (or any failed response) as one readable sentence.
async function problemOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON (a proxy's error page): the status line has to do
  }
  const title = body?.title || response.statusText || "Request failed";
  let text = body?.detail && body.detail !== title ? `${title}: ${body.detail}` : title;
  const retry = response.headers.get("Retry-After");
  if (response.status === 429 && retry) text += ` (try again in ${retry} s)`;
  if (response.status >= 500) text += `. (HTTP ${response.status}${body?.request_id ? `, request ${body.request_id}` : ""})`;
  return new ApiError(response.status, text, body);
}

async function refreshSession() {
  const refresh = state.session?.refresh_token;
  if (!refresh) return false;
  const response = await fetch("/v1/auth/refresh", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ refresh_token: refresh }),
  }).catch(() => null);
  if (!response?.ok) return false;
  keepSession(await response.json());
  return true;
}

// JSON from the API; a 401 with a refresh token left tries one refresh, then the request again.
async function api(path, { method = "GET", body, auth = true } = {}) {
  const send = () => {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (auth && state.session) headers.Authorization = `Bearer ${state.session.access_token}`;
    return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  };
  let response;
  try {
    response = await send();
    if (response.status === 401 && auth && (await refreshSession())) response = await send();
  } catch (error) {
    throw new ApiError(0, `Cannot reach the server (${error.message}); check the connection and try again.`);
  }
  if (!response.ok) throw await problemOf(response);
  return response.status === 204 ? null : response.json();
}

function showSignIn(text = "") {
  keepSession(null);
  destroyCharts();
  state.me = null;
  ui.dashboard.hidden = true;
  ui.who.hidden = true;
  ui.signin.hidden = false;
  showMessage(text);
  ui.signin.elements.login.focus();
}

function destroyCharts() {
  for (const [key, chart] of Object.entries(state.charts)) {
    chart.destroy();
    delete state.charts[key];
  }
}

async function listClips(handle) {
  const clips = [];
  let cursor = null;
  for (let page = 0; page < 20; page += 1) { // 2,000 clips; past that, pick one by ?clip=
    const query = new URLSearchParams({ limit: "100" });
    if (cursor) query.set("cursor", cursor);
    const body = await api(`/v1/users/${encodeURIComponent(handle)}/clips?${query}`);
    clips.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return clips;
}

function clipLabel(clip) {
  const caption = clip.caption.trim() || `Clip ${clip.id}`;
  const short = caption.length > 60 ? `${caption.slice(0, 59)}…` : caption;
  const notes = [clip.visibility !== "public" ? clip.visibility : "", clip.status !== "ready" ? clip.status : ""];
  return [short, ...notes.filter(Boolean)].join(" · ");
}

function fillClips(wanted) {
  ui.clip.replaceChildren(new Option("Whole channel", ""));
  for (const clip of state.clips) ui.clip.append(new Option(clipLabel(clip), clip.id));
  // A clip asked for by the URL but not in the list (not yours, or gone): the API says why.
  if (wanted && !state.clips.some((c) => c.id === wanted)) ui.clip.append(new Option(`Clip ${wanted}`, wanted));
  ui.clip.value = wanted || "";
}

async function showDashboard() {
  ui.signin.hidden = true;
  ui.handle.textContent = `@${state.me.handle}`;
  ui.who.hidden = false;
  ui.dashboard.hidden = false;
  const params = new URLSearchParams(location.search);
  const wanted = /^\d{1,19}$/.test(params.get("clip") || "") ? params.get("clip") : "";
  if ([...ui.days.options].some((o) => o.value === params.get("days"))) ui.days.value = params.get("days");
  try {
    state.clips = await listClips(state.me.handle);
  } catch (error) {
    if (error.status === 401) return showSignIn("Your session has ended; sign in again.");
    showMessage(`Could not list your clips: ${error.message}`);
    state.clips = [];
  }
  fillClips(wanted);
  await loadReport();
}

function period(days) {
  const to = new Date().toISOString().slice(0, 10); // the API counts UTC days
  const from = new Date(Date.parse(`${to}T00:00:00Z`) - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  return { from, to };
}

async function loadReport() {
  const clipId = ui.clip.value;
  const days = Number(ui.days.value);
  const { from, to } = period(days);
  const ticket = ++state.ticket; // a newer choice wins over a slower older answer
  const url = new URL(location.href);
  url.search = new URLSearchParams({ ...(clipId ? { clip: clipId } : {}), days: String(days) }).toString();
  history.replaceState(null, "", url);
  ui.period.textContent = `${from} to ${to}`;
  ui.dashboard.dataset.state = "loading";
  ui.loading.hidden = false;
  showMessage("");
  const what = clipId ? ui.clip.selectedOptions[0].textContent : "your channel";
  try {
    const query = new URLSearchParams({ from, to });
    const data = await api(clipId ? `/v1/creators/me/analytics/clips/${clipId}?${query}`
                                  : `/v1/creators/me/analytics?${query}`);
    if (ticket !== state.ticket) return;
    ui.scope.textContent = clipId ? `Clip: ${what}` : `Whole channel (@${state.me.handle})`;
    ui.report.hidden = false; // before drawing: the charts take the width of their figures
    renderReport({ totals: ui.totals, figures: ui.figures }, data, state.charts);
    ui.dashboard.dataset.state = "ready";
  } catch (error) {
    if (ticket !== state.ticket) return;
    if (error.status === 401) return showSignIn("Your session has ended; sign in again.");
    destroyCharts();
    ui.report.hidden = true;
    showMessage(`Could not load the analytics of ${what}. ${error.message}`);
    ui.dashboard.dataset.state = "error";
  } finally {
    if (ticket === state.ticket) ui.loading.hidden = true;
  }
}

ui.signin.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = ui.signin.elements;
  const button = ui.signin.querySelector("button");
  button.disabled = true;
  showMessage("");
  try {
    const pair = await api("/v1/auth/login", {
      method: "POST", auth: false, body: { login: form.login.value.trim(), password: form.password.value },
    });
    keepSession(pair);
    state.me = pair.user;
    ui.signin.reset();
    await showDashboard();
  } catch (error) {
    showMessage(`Could not sign in. ${error.message}`);
  } finally {
    button.disabled = false;
  }
});

$("#signout").addEventListener("click", async () => {
  await api("/v1/auth/logout", { method: "POST" }).catch(() => {}); // the token expires anyway
  showSignIn();
});
ui.clip.addEventListener("change", loadReport);
ui.days.addEventListener("change", loadReport);

if (!state.session) {
  showSignIn();
} else {
  try {
    state.me = await api("/v1/me");
    await showDashboard();
  } catch (error) {
    if (error.status === 401) showSignIn("Your session has ended; sign in again.");
    else showMessage(`Could not load your account. ${error.message}`);
  }
}
