/* scimwatch popup: lists every key the server reports as due, from the
 * cached banner payload, with days left, severity and a link to its org. */
"use strict";
const K = globalThis.ScimwatchKeys;
const table = document.getElementById("scimwatch-keys");
const status = document.getElementById("scimwatch-status");

const ADMIN = "https://admin.atlassian.com/";

/** Returns the banner's link to its org (made by the server) when it leads to admin.atlassian.com. */
function orgUrl(banner) {
  try {
    const url = new URL(String(banner.action_url));
    return url.href.startsWith(ADMIN) ? url.href : null;
  } catch (e) {
    return null;
  }
}

/** Creates a table cell holding text. */
function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text == null ? "" : String(text);
  return td;
}

/** Builds one key's row from its banner. */
function row(banner) {
  const tr = document.createElement("tr");
  tr.dataset.keyId = String(banner.key_id);
  const orgName = banner.org_name || banner.org_id;
  const href = orgUrl(banner);
  const org = cell(href ? "" : orgName);
  if (href) {
    const link = org.appendChild(document.createElement("a"));
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    link.textContent = orgName;
  }
  const severity = cell("");
  const label = severity.appendChild(document.createElement("span"));
  label.className = "scimwatch-severity scimwatch-" + banner.severity;
  label.textContent = banner.severity;
  tr.append(cell(banner.directory_name || banner.label || banner.directory_id), org,
    cell(banner.days_left, "scimwatch-days"), severity);
  return tr;
}

/** Shows the cache: the keys due, when they were fetched and the last error. */
function show(options, cache) {
  const banners = cache && cache.payload ? cache.payload.banners : [];
  table.tBodies[0].replaceChildren(...banners.map(row));
  table.hidden = !banners.length;
  const lines = [];
  if (!options) lines.push("Not connected to a scimwatch server yet: open the options.");
  else if (cache && cache.payload && !banners.length) lines.push("No SCIM API key is due.");
  if (cache && cache.fetched_at) lines.push(`Updated ${new Date(cache.fetched_at).toLocaleString()}.`);
  if (cache && cache.error) lines.push(`Last refresh failed: ${cache.error}`);
  status.dataset.state = cache && cache.error ? "error" : "ok";
  status.textContent = lines.join(" ");
}

async function load() {
  const [{ [K.options]: options }, { [K.cache]: cache }] = await Promise.all([
    chrome.storage.sync.get(K.options), chrome.storage.local.get(K.cache)]);
  show(options, cache);
}

document.getElementById("scimwatch-options").addEventListener("click", (event) => {
  event.preventDefault();
  chrome.runtime.openOptionsPage();
});
chrome.storage.onChanged.addListener(load);
load();
chrome.runtime.sendMessage({ type: K.refresh }).catch(() => {});
