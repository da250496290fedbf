/* scimwatch popup: lists every key the server reports as due, from the
 * cached banner payload: directory (linked to its page) and org; severity, when in words, and the date. */
"use strict";
const K = globalThis.ScimwatchKeys;
const table = document.getElementById("scimwatch-keys");
const status = document.getElementById("scimwatch-status");
const refreshButton = document.getElementById("scimwatch-refresh");

const ADMIN = "https://admin.atlassian.com/";
const LABELS = { expired: "Expired", critical: "Critical", warning: "Warning", info: "Info" };
const ago = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** Returns the banner's link (the directory's page when known, made by the server) when it leads to admin.atlassian.com. */
function directoryUrl(banner) {
  try {
    const url = new URL(String(banner.page_url || banner.action_url));
    return url.href.startsWith(ADMIN) ? url.href : null;
  } catch (e) {
    return null;
  }
}

/** Returns the banner's signed "I regenerated it" page (the server's PUBLIC_URL/r/...) when it is http(s). */
function rotateUrl(banner) {
  try {
    const url = new URL(String(banner.rotate_url));
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch (e) {
    return null;
  }
}

/** Creates an element holding text. */
function element(tag, text, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  node.textContent = text == null ? "" : String(text);
  return node;
}

/** Builds one key's row from its banner. */
function row(banner) {
  const tr = document.createElement("tr");
  tr.dataset.keyId = String(banner.key_id);
  const name = banner.directory_name || banner.label || banner.directory_id;
  const directory = tr.appendChild(document.createElement("td"));
  const href = directoryUrl(banner);
  if (href) {
    const link = directory.appendChild(element("a", name));
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  } else {
    directory.append(name);
  }
  directory.append(element("span", banner.org_name || banner.org_id, "scimwatch-org"));
  const severity = LABELS[banner.severity] ? banner.severity : "info";
  tr.appendChild(document.createElement("td")).append(
    element("span", LABELS[severity], "scimwatch-severity scimwatch-" + severity),
    element("span", `${severity === "expired" ? "expired" : "expires"} ${banner.relative_text}`, "scimwatch-when"),
    element("span", banner.expires_text, "scimwatch-date"));
  const rotate = rotateUrl(banner);
  if (rotate) {
    const link = tr.cells[1].appendChild(element("a", "I've rotated it", "scimwatch-rotate"));
    link.href = rotate;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  return tr;
}

/** Returns "2 minutes ago" for an ISO time, or "just now". */
function since(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  if (!(seconds < -60)) return "just now";
  const [amount, unit] = seconds > -3600 ? [seconds / 60, "minute"] : seconds > -86400 ? [seconds / 3600, "hour"] : [seconds / 86400, "day"];
  return ago.format(Math.round(amount), unit);
}

/** Shows the cache: every key due, when it was fetched, why the last refresh failed, and whether it may track. */
function show(connected, cache, tracking) {
  const banners = cache && cache.payload ? cache.payload.banners : [];
  table.tBodies[0].replaceChildren(...banners.map(row));
  table.hidden = !banners.length;
  const lines = [];
  if (!connected) lines.push("Not connected to a scimwatch server yet: open the options.");
  if (cache && cache.error) lines.push(`? ${cache.error}` + (banners.length ? " Showing the last known keys." : ""));
  else if (cache && cache.payload && !banners.length) lines.push("No SCIM API key is due.");
  if (cache && cache.fetched_at) lines.push(`Updated ${since(cache.fetched_at)}.`);
  if (connected && tracking && tracking.allowed === false && cache && tracking.server === cache.server) {
    lines.push("Tracking keys from their directory pages needs a track token: see the options.");
  }
  status.dataset.state = cache && cache.error ? "error" : "ok";
  status.textContent = lines.join(" ");
}

async function load() {
  const [settings, { [K.cache]: cache, [K.tracking]: tracking }] = await Promise.all([
    chrome.runtime.sendMessage({ type: K.settings }), chrome.storage.local.get([K.cache, K.tracking])]);
  show(settings && settings.server && settings.token, cache, tracking);
}

/** Asks the service worker for fresh banners; the storage change redraws the list. */
async function refresh() {
  refreshButton.disabled = true;
  refreshButton.textContent = "Refreshing\u2026";
  try {
    await chrome.runtime.sendMessage({ type: K.refresh });
  } finally {
    refreshButton.disabled = false;
    refreshButton.textContent = "Refresh";
    load();
  }
}

document.getElementById("scimwatch-options").addEventListener("click", (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});
refreshButton.addEventListener("click", refresh);
chrome.storage.onChanged.addListener(load);
load();
refresh();
