/* Banner preview: the widget itself draws the payload of /ui/preview.json, for all orgs or the one
 * chosen. The widget is loaded as a module, which has no document.currentScript, so it does not embed
 * itself or ask for a token. */
const form = document.getElementById("preview-form");
const select = document.getElementById("preview-org");
const status = document.getElementById("preview-status");
// Dismissals last for this visit: the preview never hides the bar on later visits.
const dismissed = new Set();
const dismissals = { has: (id) => dismissed.has(id), add: (id) => dismissed.add(id) };

const draw = (payload) => {
  const count = Array.isArray(payload.banners) ? payload.banners.length : 0;
  globalThis.ScimwatchBanner.render(payload, { dismissals });
  status.textContent = count
    ? `${count} ${count === 1 ? "key is" : "keys are"} due: the widget draws its bar at the top of this page.`
    : "No banner is due for these keys, so the widget shows nothing (a key gets one 30 days before it expires).";
};

const load = () => {
  const url = new URL(form.dataset.payload, document.baseURI);
  if (select.value) url.searchParams.set("org_id", select.value);
  return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("application/json")) {
        throw new Error(response.ok ? "the session ended; sign in again" : "HTTP " + response.status);
      }
      return response.json();
    })
    .then(draw)
    .catch((error) => { status.textContent = "Could not load the banners: " + error.message; });
};

load();
select.addEventListener("change", load);
