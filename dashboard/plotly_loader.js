// plotly.js, loaded once per page from the app's static folder (shared by the live components).
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
