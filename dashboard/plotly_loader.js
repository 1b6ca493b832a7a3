// Shared by the live components: plotly.js, loaded once per page from the app's static folder, and
// the watchdog that notices a live chart left without payloads.
function loadPlotly(urls) {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  window.__shallowresPlotly ??= new Promise((resolve, reject) => {
    const tryUrl = (i) => {
      if (i >= urls.length) { reject(new Error("plotly.js could not be loaded")); return; }
      const s = document.createElement("script");
      s.src = urls[i];
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { s.remove(); tryUrl(i + 1); };
      document.head.appendChild(s);
    };
    tryUrl(0);
  });
  return window.__shallowresPlotly;
}

// While a chart moves, each payload re-arms its watchdog: if none follows within ms, fire() runs once
// (the component then asks its fragment for a rerun). ms null disarms it (the chart is still).
function armWatchdog(holder, ms, fire) {
  clearTimeout(holder.watchdog);
  holder.watchdog = ms ? setTimeout(() => { holder.watchdog = null; fire(); }, ms) : null;
}
