// Live Plotly charts that stay on screen and grow in place while a run computes.
//
// Python (dashboard/live_chart.py) sends, on every rerun of the page's live fragment:
//   data.gen     the identity of the data stream (a run, a replay); a new one starts afresh
//   data.series  name -> {base, dtype, b64, width}: rows base.. of a growing column
//                (base64 little-endian float64 or int32; width > 1 for a matrix, row-major)
//   data.head    alg -> {t, column: value, heat: [...]}: the latest record, drawn after the grid points
//   data.figs    [{layout, traces, config}]: traces name their data by reference,
//                {ref, alg, floor?, log1p?, rows?} -> the series `${alg}.${ref}` (+ the head)
// Each series keeps the rows it has and replaces those from `base` on, so a payload the
// browser merges away (two reruns in one frame) costs nothing: the next one overlaps it.
// If a payload starts past what this chart has, it asks Python for everything again
// (the "resync" trigger), until a payload merges. One Plotly.js chart per figure is created once and updated
// with Plotly.react, so charts never blink and zoom survives (uirevision).
const STATES = (window.__shallowresLive ??= new Map());     // by the element's key: a remount keeps its data

function decode(s) {
  const bin = atob(s.b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return s.dtype === "f8" ? new Float64Array(bytes.buffer) : new Int32Array(bytes.buffer);
}

function concat(a, b) {
  const out = new a.constructor(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function merge(S, data) {
  if (data.gen !== S.gen) {
    if (!data.full) return false;
    S.gen = data.gen;
    S.series = {};
    S.widths = {};
  }
  for (const [name, s] of Object.entries(data.series || {})) {
    const width = s.width || 1;
    const add = decode(s);
    const have = S.series[name];
    const rows = have ? have.length / width : 0;
    if (s.base > rows) return false;
    S.series[name] = have && s.base > 0 ? concat(have.subarray(0, s.base * width), add) : add;
    S.widths[name] = width;
  }
  S.head = data.head || {};
  S.figs = data.figs || [];
  S.status = data.status || [];
  // What the browser holds, for tests and the load test: the latest iteration per algorithm.
  S.grid.dataset.gen = S.gen || "";
  S.grid.dataset.full = String(!!data.full);
  S.grid.dataset.latest = JSON.stringify(Object.fromEntries(
    Object.entries(S.head).filter(([, h]) => h && h.t !== undefined).map(([a, h]) => [a, h.t])));
  return true;
}

function lastOf(a) { return a && a.length ? a[a.length - 1] : -Infinity; }

// The values of a reference: the grid rows of `${alg}.${ref}`, then the head if it is newer.
function resolve(S, spec) {
  const name = `${spec.alg}.${spec.ref}`;
  const width = S.widths[name] || 1;
  const data = S.series[name] || new Float64Array(0);
  const head = S.head[spec.alg];
  const gridT = S.series[`${spec.alg}.${spec.tref || "t"}`];
  const withHead = head && head.t > lastOf(gridT) && head[spec.ref] !== undefined;
  if (width === 1) {
    const out = Array.from(data);
    if (withHead) out.push(head[spec.ref]);
    if (spec.floor !== undefined) return out.map((v) => (v < spec.floor ? spec.floor : v));
    return out;
  }
  // A matrix stored row by row (one row per grid iteration): Plotly wants z[neuron][iteration].
  const k = data.length / width;
  const cols = withHead ? k + 1 : k;
  const z = [];
  for (let j = 0; j < width; j++) {
    const row = new Array(cols);
    for (let i = 0; i < k; i++) row[i] = data[i * width + j];
    if (withHead) row[k] = head[spec.ref][j];
    z.push(spec.log1p ? row.map((v) => Math.log10(1 + v)) : row);
  }
  return z;
}

function traces(S, fig) {
  return fig.traces.map((tr) => {
    const out = { ...tr };
    for (const key of ["x", "y", "z", "customdata"]) {
      if (tr[key] && typeof tr[key] === "object" && !Array.isArray(tr[key]) && tr[key].ref) {
        out[key] = resolve(S, tr[key]);
      }
    }
    return out;
  });
}

// The status line: one line per algorithm, drawn with the charts so that both show the same iteration.
function renderStatus(S) {
  S.statusBox.replaceChildren(...S.status.map(([name, text]) => {
    const line = document.createElement("div");
    const b = document.createElement("b");
    b.textContent = name;
    line.append(b, " · " + text);
    return line;
  }));
}

function render(S, Plotly) {
  renderStatus(S);
  while (S.divs.length < S.figs.length) {
    const div = document.createElement("div");
    div.className = "sr-live-chart";
    S.grid.appendChild(div);
    S.divs.push(div);
  }
  while (S.divs.length > S.figs.length) S.divs.pop().remove();
  const t0 = performance.now();
  S.figs.forEach((fig, i) => {
    Plotly.react(S.divs[i], traces(S, fig), fig.layout, fig.config || { displaylogo: false, responsive: true });
  });
  S.grid.dataset.rendered = String(Date.now());
  S.grid.dataset.renderMs = (performance.now() - t0).toFixed(1);     // read by the browser tests
}

export default function (component) {
  const { data, key, parentElement, setTriggerValue } = component;
  if (!data) return;
  let S = STATES.get(key);
  if (S && S.parent !== parentElement) {           // remounted: move the charts into the new element
    parentElement.append(S.statusBox, S.grid);
    S.parent = parentElement;
  }
  if (!S) {
    const statusBox = document.createElement("div");
    statusBox.className = "sr-status";
    const grid = document.createElement("div");
    grid.className = "sr-live-grid";
    parentElement.append(statusBox, grid);
    S = { gen: null, series: {}, widths: {}, head: {}, figs: [], divs: [], status: [], grid, statusBox,
          timer: null, retry: null, parent: parentElement };
    STATES.set(key, S);
  }
  S.grid.style.setProperty("--sr-columns", String(data.columns || 2));
  checkPage(S, data.page, (v) => setTriggerValue("repage", v));
  if (!merge(S, data)) {
    // A payload that starts past what the browser holds: ask for everything, and ask again every
    // RETRY ms until a payload merges (a single request can be lost, and a final payload is the last).
    armWatchdog(S, null);
    const ask = () => {
      S.grid.dataset.resyncs = String(Number(S.grid.dataset.resyncs || 0) + 1);   // read by the tests
      setTriggerValue("resync", "resync:" + Date.now());
      S.retry = setTimeout(ask, RETRY);
    };
    if (!S.retry) ask();
    return;
  }
  clearTimeout(S.retry);
  S.retry = null;
  watch(S, data, setTriggerValue);
  schedule(S, data.plotly || [], data.final);
}

const RETRY = 2000;

// The page's live fragment reruns on a timer that Streamlit's frontend keeps. Should a rerun be lost
// (a busy server, a timer dropped between two full runs), a page that is still moving would stop
// updating and keep saying "running" after the run ended. So each payload that is not the last one
// arms a watchdog: if no payload follows within data.watchdog ms, ask Python for everything again
// (the resync trigger reruns the fragment, which then shows where the run really is).
//
// A still payload from a full run of the page carries a short watchdog too: it reruns the fragment
// once (the "settle" trigger), which checks that the full run drew the page to its end.
function watch(S, data, setTriggerValue) {
  armWatchdog(S, data.watchdog, () => {
    const kind = data.final ? "settle" : "watchdog";
    S.grid.dataset[kind] = String(Number(S.grid.dataset[kind] || 0) + 1);   // read by the tests
    setTriggerValue(data.final ? "settle" : "resync", kind + ":" + Date.now());
  });
}

// While data streams in, draw at most once per max(MIN_GAP, 3 x the last draw's duration), capped
// at MAX_GAP: the page's main thread stays mostly free for clicks even on a slow laptop, and the
// latest data is always what gets drawn. The last payload of a run ("final") is drawn at once.
const MIN_GAP = 200;
const MAX_GAP = 800;
function schedule(S, urls, final) {
  // A load test opens dozens of sessions on one machine, where real students each have their
  // own: it sets this flag so that its browsers receive and merge everything but draw no chart.
  if (window.localStorage && window.localStorage.getItem("shallowres.noDraw") === "1") {
    renderStatus(S);
    return;
  }
  if (S.timer && final) {
    clearTimeout(S.timer);
    S.timer = null;
  }
  if (S.timer) return;
  const gap = Math.min(MAX_GAP, Math.max(MIN_GAP, 3 * (S.drawMs || 0)));
  const wait = final ? 0 : Math.max(0, (S.lastDraw || 0) + gap - performance.now());
  S.timer = setTimeout(() => {
    loadPlotly(urls).then((Plotly) => {
      S.timer = null;
      const t0 = performance.now();
      render(S, Plotly);
      S.lastDraw = performance.now();
      S.drawMs = S.lastDraw - t0;
    }).catch((e) => {
      S.timer = null;
      console.error("shallowres live charts:", e);
    });
  }, wait);
}
