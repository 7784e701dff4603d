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

  function draw(el) {
    if (el.dataset.fmdDrawn) return;
    el.dataset.fmdDrawn = "1";
    const data = el.querySelector("script[type='application/json']");
    const view = el.querySelector(".fmd-chart-view") || el;
    if (!data) return;
    if (typeof vegaEmbed === "undefined") return showChartError(view, "vega-embed is not loaded");
    let spec;
    try { spec = JSON.parse(data.textContent); } catch (err) { return showChartError(view, err); }
    vegaEmbed(view, spec, {actions: {export: true, source: false, compiled: false, editor: false}})
      .catch(err => showChartError(view, err));
  }

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
