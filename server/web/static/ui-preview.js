/* Banner preview: the widget itself draws the payload of /ui/preview.json. The widget is loaded as a
 * module, which has no document.currentScript, so it does not embed itself or ask for a token. */
const form = document.getElementById("preview-form");
const select = document.getElementById("preview-org");
const status = document.getElementById("preview-status");
// Dismissals last for this visit: the preview never hides a banner on later visits.
const dismissed = new Set();
const dismissals = { has: (id) => dismissed.has(id), add: (id) => dismissed.add(id) };

const draw = (payload) => {
  const banners = globalThis.ScimwatchBanner.forOrg(payload, select.value);
  globalThis.ScimwatchBanner.render(banners, { dismissals });
  status.textContent = banners.length
    ? `${banners.length} ${banners.length === 1 ? "banner is" : "banners are"} due: the widget draws them at the top of this page.`
    : "No banner is due for these keys, so the widget shows nothing (a key gets one 30 days before it expires).";
};

fetch(form.dataset.payload, { credentials: "same-origin", headers: { Accept: "application/json" } })
  .then((response) => {
    if (!response.ok || !(response.headers.get("Content-Type") || "").startsWith("application/json")) {
      throw new Error(response.ok ? "the session ended; sign in again" : "HTTP " + response.status);
    }
    return response.json();
  })
  .then((payload) => {
    draw(payload);
    select.addEventListener("change", () => draw(payload));
  })
  .catch((error) => { status.textContent = "Could not load the banners: " + error.message; });
