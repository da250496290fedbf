/* Names shared by every part of the scimwatch extension: storage keys, the
 * message types the service worker answers, and what the bar shows. */
globalThis.ScimwatchKeys = Object.freeze({
  options: "scimwatch:options", // chrome.storage.local (chrome.storage.sync before 0.2.0): {server, token}
  cache: "scimwatch:cache", // chrome.storage.local: the last good payloads and the last error
  dismissed: "scimwatch:dismissed", // chrome.storage.local: dismissed summary ids
  refresh: "scimwatch:refresh", // message: fetch the banners now
  save: "scimwatch:save", // message: check a server and token, then save them
  settings: "scimwatch:settings", // message: the options in force, and which ones policy sets
  prefs: "scimwatch:prefs", // chrome.storage.local: {auto_record}, what the admin chose in the options
  tracking: "scimwatch:tracking", // chrome.storage.local: {server, allowed}, whether the token may record observations
  seenDays: "scimwatch:seen-days", // chrome.storage.local: {directory: day}, when an unchanged expiry was last reported
  observe: "scimwatch:observe", // message from a directory page: what it shows; the answer says what to offer
  record: "scimwatch:record", // message from a directory page: the admin confirmed, record what it shows
  openOptions: "scimwatch:open-options", // message: open the options page
  minSeverity: "warning", // the bar on admin.atlassian.com leaves info out; the popup lists every key
});
