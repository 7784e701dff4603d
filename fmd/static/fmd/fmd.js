// fmd's only script. Charts: htmx.onLoad fires for the first page and for every swapped-in fragment, so
// each `.fmd-chart` is drawn once wherever it arrives; its Vega-Lite spec is the JSON in its child
// <script type="application/json"> (escaped by the server with |tojson). Errors: a refused htmx request
// (400/403/429...) shows the server's message in the toast instead of failing silently.
(function () {
  "use strict";

  function showChartError(view, err) {
    const p = document.createElement("p");
    p.className = "fmd-chart-error";
    p.textContent = "This chart could not be drawn: " + (err && err.message ? err.message : err);
    view.replaceChildren(p);
  }

  // Dark pages get vega-embed's bundled dark theme (the specs' background is transparent, so the page shows
  // through in both schemes); a scheme change redraws the charts already on the page.
  const darkQuery = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  const views = new Map();  // .fmd-chart element -> its vega-embed result, to finalize before a redraw

  function embedOptions() {
    const opts = {actions: {export: true, source: false, compiled: false, editor: false}};
    if (darkQuery && darkQuery.matches) {
      opts.theme = "dark";
      opts.tooltip = {theme: "dark"};
    }
    return opts;
  }

  function render(el, view, spec) {
    const old = views.get(el);
    if (old) { views.delete(el); old.finalize(); }
    vegaEmbed(view, spec, embedOptions())
      .then(result => { if (el.isConnected) views.set(el, result); else result.finalize(); })
      .catch(err => showChartError(view, err));
  }

  function prune() {  // charts swapped out by htmx: free their views (timers, listeners)
    views.forEach((result, el) => { if (!el.isConnected) { views.delete(el); result.finalize(); } });
  }

  function draw(el) {
    if (el.dataset.fmdDrawn) return;
    el.dataset.fmdDrawn = "1";
    prune();
    const data = el.querySelector("script[type='application/json']");
    const view = el.querySelector(".fmd-chart-view") || el;
    if (!data) return;
    if (typeof vegaEmbed === "undefined") return showChartError(view, "vega-embed is not loaded");
    let spec;
    try { spec = JSON.parse(data.textContent); } catch (err) { return showChartError(view, err); }
    render(el, view, spec);
  }

  function redrawAll() {
    prune();
    views.forEach((result, el) => {
      const data = el.querySelector("script[type='application/json']");
      render(el, el.querySelector(".fmd-chart-view") || el, JSON.parse(data.textContent));
    });
  }
  if (darkQuery) darkQuery.addEventListener("change", redrawAll);

  htmx.onLoad(root => {
    if (root.matches && root.matches(".fmd-chart")) draw(root);
    if (root.querySelectorAll) root.querySelectorAll(".fmd-chart").forEach(draw);
  });

  let toastTimer = null;
  function toast(message) {
    const box = document.getElementById("fmd-toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 8000);
  }

  document.addEventListener("htmx:responseError", ev => {
    const html = ev.detail.xhr.responseText || "";
    const doc = new DOMParser().parseFromString(html, "text/html");
    const msg = doc.querySelector(".fmd-error-message");
    toast((msg ? msg.textContent : doc.body.textContent).trim() || "The request failed (" + ev.detail.xhr.status + ").");
  });
  document.addEventListener("htmx:sendError", () => toast("The dashboard did not answer; is the server running?"));
})();
