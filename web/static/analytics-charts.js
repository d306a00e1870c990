// Figures of the creator analytics page. Lines and bars over days or seconds are drawn by uPlot
// (vendored in ./vendor, MIT); shares (traffic sources, regions, devices) are bars in an HTML
// table, since uPlot only plots numeric x axes. Every figure has a caption (its title), labelled
// axes, a text alternative (an aria-label summary on the plot and the full data as a table) and
// an empty state that says there is no data yet, which is not an error.
import uPlot from "./vendor/uPlot-1.6.32.esm.js";

const DAY_MS = 86_400_000;
const HEIGHT = 240;
// Steps of count axes: whole numbers only (no "0.5 views").
const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8, 1e9];
const COLORS = { views: "#2f6fde", watch: "#7a4fd6", gained: "#2e8b57", lost: "#c0392b", retention: "#e07a00",
                 likes: "#d6336c", comments: "#1c7ed6", shares: "#2b8a3e" };
export const EMPTY_TEXT = "No data yet for this period. Figures appear a few minutes after viewers watch (after the next batch run).";

export const fmt = {
  count: (n) => Math.round(n).toLocaleString("en"),
  seconds: (ms) => `${(ms / 1000).toFixed(1)} s`,
  percent: (fraction) => `${(fraction * 100).toFixed(1)} %`,
  duration: (ms) => (ms < 60_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min`
    : `${(ms / 3_600_000).toFixed(1)} h`),
};

const SOURCE_NAMES = { foryou: "For You", following: "Following", profile: "Profile", search: "Search",
                       hashtag: "Hashtag", share: "Shared link", notification: "Notification", other: "Other",
                       unknown: "Unknown" };

function el(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function figure(id, title, sum = "") {
  const caption = el("figcaption", { id: `chart-${id}-title` }, title);
  if (sum) caption.append(" ", el("span", { className: "sum" }, `(${sum})`));
  const fig = el("figure", { className: "chart" }, caption);
  fig.dataset.chart = id;
  fig.setAttribute("aria-labelledby", caption.id);
  return fig;
}

function dataTable(headers, rows, { open = false } = {}) {
  const head = el("tr", {}, ...headers.map((h, i) => el("th", { scope: "col", className: i ? "num" : "" }, h)));
  const body = rows.map((cells) => el("tr", {}, ...cells.map((c, i) =>
    i ? el("td", { className: "num" }, c) : el("th", { scope: "row" }, c))));
  return el("details", { open }, el("summary", {}, "Data as a table"),
            el("table", { className: "data" }, el("thead", {}, head), el("tbody", {}, ...body)));
}

function empty() {
  return el("p", { className: "empty" }, EMPTY_TEXT);
}

// One uPlot chart in ``fig``, sized to it and resized with it; returns the instance.
function plot(fig, summary, options, data) {
  const box = el("div", { className: "plot" });
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", summary);
  fig.append(box);
  const width = () => Math.max(240, fig.clientWidth - 24);
  const chart = new uPlot({ width: width(), height: HEIGHT, legend: { show: true }, ...options }, data, box);
  const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: HEIGHT }));
  observer.observe(fig);
  const destroy = chart.destroy;
  chart.destroy = () => { observer.disconnect(); destroy(); };
  return chart;
}

const dayOf = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);

// A chart over UTC days: ``series`` [{key, label, values, color}], ``kind`` "bars" or "line".
function daysChart(fig, { days, series, kind, yLabel, format, counts, summary }) {
  const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const half = 43_200;
  const low = Math.min(0, ...series.flatMap((s) => s.values.filter((v) => v != null)));
  const high = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v != null)));
  return plot(fig, summary, {
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
    scales: {
      x: { time: true, range: () => [xs[0] - half, xs[xs.length - 1] + half] },
      y: { range: () => [low < 0 ? low * 1.15 : 0, high > 0 ? high * 1.15 : 1] },
    },
    axes: [
      { label: "Day (UTC)", values: (u, splits) => splits.map((s) => dayOf(s).slice(5)) },
      { label: yLabel, size: 70, values: (u, splits) => splits.map(format), ...(counts ? { incrs: COUNT_STEPS } : {}) },
    ],
    series: [
      { label: "Day", value: (u, v) => (v == null ? "–" : dayOf(v)) },
      ...series.map((s) => ({
        label: s.label, stroke: s.color, width: 2, fill: kind === "bars" ? `${s.color}aa` : undefined,
        paths: kind === "bars" ? uPlot.paths.bars({ size: [0.7, 48] }) : undefined,
        points: { show: kind !== "bars" }, value: (u, v) => (v == null ? "–" : format(v)),
      })),
    ],
  }, [xs, ...series.map((s) => s.values)]);
}

function busiest(days, values) {
  let best = 0;
  values.forEach((v, i) => { if (v > values[best]) best = i; });
  return `${days[best]} (${fmt.count(values[best])})`;
}

function viewsFigure(data, charts) {
  const days = data.daily.map((d) => d.day);
  const views = data.daily.map((d) => d.views);
  const total = views.reduce((a, b) => a + b, 0);
  const fig = figure("views", "Views per day", `${fmt.count(total)} in total`);
  return [fig, () => {
    if (!total) return fig.append(empty());
    charts.views = daysChart(fig, {
      days, kind: "bars", yLabel: "Views (distinct viewers)", format: fmt.count, counts: true,
      series: [{ label: "Views", values: views, color: COLORS.views }],
      summary: `Views per day from ${data.from} to ${data.to}: ${fmt.count(total)} in total, most on ${busiest(days, views)}.`,
    });
    fig.append(dataTable(["Day", "Views", "Plays"], data.daily.map((d) => [d.day, fmt.count(d.views), fmt.count(d.plays)])));
  }];
}

function watchFigure(data, charts) {
  const days = data.daily.map((d) => d.day);
  const average = data.daily.map((d) => (d.plays ? d.avg_watch_ms : null)); // no plays: no average
  const fig = figure("watch", "Average watch time per play",
                     data.totals.plays ? `${fmt.seconds(data.totals.avg_watch_ms)} over the period` : "");
  return [fig, () => {
    if (!average.some((v) => v != null)) return fig.append(empty());
    charts.watch = daysChart(fig, {
      days, kind: "line", yLabel: "Seconds watched", format: fmt.seconds,
      series: [{ label: "Average watch time", values: average, color: COLORS.watch }],
      summary: `Average watch time per play by day from ${data.from} to ${data.to}; ${fmt.seconds(data.totals.avg_watch_ms)} over the period.`,
    });
    fig.append(dataTable(["Day", "Average watch time", "Plays"],
                         data.daily.filter((d) => d.plays).map((d) => [d.day, fmt.seconds(d.avg_watch_ms), fmt.count(d.plays)])));
  }];
}

function engagementFigure(data, charts) {
  const days = data.daily.map((d) => d.day);
  const kinds = [["likes", "Likes"], ["comments", "Comments"], ["shares", "Shares"]];
  const sums = kinds.map(([k]) => data.totals[k]);
  const fig = figure("engagement", "Likes, comments and shares per day",
                     kinds.map(([, label], i) => `${fmt.count(sums[i])} ${label.toLowerCase()}`).join(", "));
  return [fig, () => {
    if (!data.daily.some((d) => d.likes || d.comments || d.shares)) return fig.append(empty());
    charts.engagement = daysChart(fig, {
      days, kind: "line", yLabel: "Count", format: fmt.count, counts: true,
      series: kinds.map(([k, label]) => ({ label, values: data.daily.map((d) => d[k]), color: COLORS[k] })),
      summary: `Likes, comments and shares per day from ${data.from} to ${data.to}: ${fig.querySelector(".sum").textContent}.`,
    });
    fig.append(dataTable(["Day", "Likes", "Comments", "Shares"],
                         data.daily.filter((d) => d.likes || d.comments || d.shares)
                           .map((d) => [d.day, fmt.count(d.likes), fmt.count(d.comments), fmt.count(d.shares)])));
  }];
}

function followersFigure(data, charts) {
  // The API lists only days with follows or unfollows; the chart shows every day of the period.
  const byDay = new Map(data.followers.map((f) => [f.day, f]));
  const days = data.daily.map((d) => d.day);
  const gained = days.map((d) => byDay.get(d)?.added ?? 0);
  const lost = days.map((d) => -(byDay.get(d)?.removed ?? 0)); // drawn below the axis
  const net = data.totals.followers_added - data.totals.followers_removed;
  const fig = figure("followers", "Follower growth",
                     `${fmt.count(data.totals.followers_added)} gained, ${fmt.count(data.totals.followers_removed)} lost, net ${net >= 0 ? "+" : ""}${fmt.count(net)}`);
  return [fig, () => {
    if (!data.followers.some((f) => f.added || f.removed)) return fig.append(empty());
    charts.followers = daysChart(fig, {
      days, kind: "bars", yLabel: "Followers", format: (v) => fmt.count(Math.abs(v)), counts: true,
      series: [{ label: "Gained", values: gained, color: COLORS.gained },
               { label: "Lost", values: lost, color: COLORS.lost }],
      summary: `Followers gained (above the axis) and lost (below) per day from ${data.from} to ${data.to}: ${fig.querySelector(".sum").textContent}.`,
    });
    fig.append(dataTable(["Day", "Gained", "Lost", "Net"],
                         data.followers.map((f) => [f.day, fmt.count(f.added), fmt.count(f.removed), fmt.count(f.net)])));
  }];
}

function retentionFigure(data, charts) {
  const points = data.retention;
  const fig = figure("retention", "Audience retention", points.length ? `${points.length} seconds` : "");
  return [fig, () => {
    if (!points.length) return fig.append(empty());
    const half = points.find((p) => p.viewers < 0.5);
    charts.retention = plot(fig, `Share of plays still watching at each second, from second 0 to ${points.length - 1}; `
      + (half ? `under half from second ${half.second}.` : "at least half to the end."), {
      scales: { x: { time: false }, y: { range: () => [0, 1.05] } },
      axes: [{ label: "Second of the clip", values: (u, splits) => splits.map((s) => `${s} s`) },
             { label: "Plays still watching", size: 70, values: (u, splits) => splits.map((s) => `${Math.round(s * 100)} %`) }],
      series: [{ label: "Second", value: (u, v) => (v == null ? "–" : `${v} s`) },
               { label: "Still watching", stroke: COLORS.retention, width: 2, fill: `${COLORS.retention}33`,
                 paths: uPlot.paths.stepped({ align: 1 }), value: (u, v) => (v == null ? "–" : fmt.percent(v)) }],
    }, [points.map((p) => p.second), points.map((p) => p.viewers)]);
    fig.append(dataTable(["Second", "Still watching"], points.map((p) => [`${p.second} s`, fmt.percent(p.viewers)])));
  }];
}

function sharesFigure(id, title, shares, nameOf = (n) => n) {
  const total = shares.reduce((a, s) => a + s.plays, 0);
  const fig = figure(id, title, total ? `${fmt.count(total)} plays` : "");
  return [fig, () => {
    if (!shares.length) return fig.append(empty());
    const rows = shares.map((s) => {
      const bar = el("td", { className: "bar" }, el("span", { style: `width: ${(s.share * 100).toFixed(1)}%` }));
      bar.setAttribute("aria-hidden", "true");
      return el("tr", {}, el("th", { scope: "row" }, nameOf(s.name)), bar, el("td", { className: "num" }, fmt.count(s.plays)),
                el("td", { className: "num" }, fmt.percent(s.share)), el("td", { className: "num" }, fmt.count(s.viewers)));
    });
    const head = el("tr", {}, el("th", { scope: "col" }, title), el("th", { scope: "col" }, "Share of plays"),
                    el("th", { scope: "col", className: "num" }, "Plays"), el("th", { scope: "col", className: "num" }, "Share"),
                    el("th", { scope: "col", className: "num" }, "Viewers"));
    fig.append(el("table", { className: "data" }, el("thead", {}, head), el("tbody", {}, ...rows)));
  }];
}

const titleCase = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function totalsList(data, channel) {
  const t = data.totals;
  const items = [["views", "Views", fmt.count(t.views)], ["plays", "Plays", fmt.count(t.plays)],
                 ["impressions", "Impressions", fmt.count(t.impressions)],
                 ["avg_watch", "Average watch time", fmt.seconds(t.avg_watch_ms)],
                 ["watch_time", "Total watch time", fmt.duration(t.watch_ms)],
                 ["completion", "Completion rate", fmt.percent(t.completion_rate)],
                 ["likes", "Likes", fmt.count(t.likes)], ["comments", "Comments", fmt.count(t.comments)],
                 ["shares", "Shares", fmt.count(t.shares)]];
  if (channel) items.push(["followers", "New followers (net)", fmt.count(t.followers_added - t.followers_removed)]);
  return items.map(([key, label, value]) => {
    const item = el("div", {}, el("dt", {}, label), el("dd", {}, value));
    item.dataset.total = key;
    return item;
  });
}

// Replace the report's totals and figures with those of ``data`` (an Analytics response);
// ``charts`` collects the uPlot instances by figure id (destroyed on the next render).
export function renderReport({ totals, figures }, data, charts) {
  for (const [key, chart] of Object.entries(charts)) {
    chart.destroy();
    delete charts[key];
  }
  const channel = data.clip_id == null;
  totals.replaceChildren(...totalsList(data, channel));
  const parts = [viewsFigure(data, charts), watchFigure(data, charts),
                 channel ? followersFigure(data, charts) : retentionFigure(data, charts),
                 engagementFigure(data, charts),
                 sharesFigure("sources", "Traffic sources", data.traffic_sources, (n) => SOURCE_NAMES[n] || n),
                 sharesFigure("regions", "Audience regions", data.regions),
                 sharesFigure("devices", "Devices", data.devices, titleCase)];
  figures.replaceChildren(...parts.map(([fig]) => fig));
  for (const [, draw] of parts) draw(); // after the figures are in the page, so they have a width
}
