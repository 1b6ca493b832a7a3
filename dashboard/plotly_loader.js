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

// The page must show the server's last full run. A payload from the page's fragment after that run
// ended carries page = {mark, drawn: true}: if the page's marker ([data-sr-page], drawn last by every
// full run) reads neither `mark` nor a newer one at PAGE_LOOKS looks PAGE_GRACE ms apart (one look
// could fall while a full run redraws the page), the browser lost that full run (seen under
// heavy load: the status at the run's end, but the buttons and no result boxes of a running page).
// Then fire() asks for a new full run, and again every PAGE_RETRY ms until a payload comes or the
// marker agrees (the server's reply is a full run, then a payload with the next mark).
const PAGE_GRACE = 1500;
const PAGE_RETRY = 5000;
const PAGE_LOOKS = 2;      // looks PAGE_GRACE apart that must all miss before asking (a lost run stays lost)

// Marks read '<page>:<count>', one count per full run. A newer full run than the payload's (the run's
// end asks for one at once) drew the page too: asking again for the older one was a false alarm, seen
// on 3 of 4 single-user default runs in Chromium (srRepages 1 on a healthy page).
function sameOrNewer(shown, mark) {
  const [a, i] = String(shown).split(":"), [b, j] = String(mark).split(":");
  return a === b && Number(i) >= Number(j);
}

function checkPage(holder, page, fire) {
  if (!page || !page.drawn || holder.pageOk === page.mark) return;
  if (holder.pageCheck && holder.pageMark === page.mark) return;       // this mark is being checked
  clearTimeout(holder.pageCheck);
  holder.pageMark = page.mark;
  let misses = 0;
  const look = (wait) => {
    holder.pageCheck = setTimeout(() => {
      const shown = document.querySelector("[data-sr-page]");
      if (shown && sameOrNewer(shown.getAttribute("data-sr-page"), page.mark)) {
        holder.pageCheck = null;
        holder.pageOk = page.mark;
        return;
      }
      if (++misses < PAGE_LOOKS) { look(PAGE_GRACE); return; }   // a full run may be redrawing the page
      document.body.dataset.srRepages = String(Number(document.body.dataset.srRepages || 0) + 1);  // tests
      fire(`${page.mark}:${Date.now()}`);
      look(PAGE_RETRY);
    }, wait);
  };
  look(PAGE_GRACE);
}
