/* scimwatch options page: saves the server address and token once the
 * service worker has checked them, says plainly what is wrong if not, and
 * shows which settings the organisation's policy sets. */
"use strict";
const K = globalThis.ScimwatchKeys;
const form = document.getElementById("scimwatch-options");
const serverInput = document.getElementById("server-url");
const tokenInput = document.getElementById("token");
const saveButton = document.getElementById("save");
const status = document.getElementById("status");
const autoRecord = document.getElementById("auto-record");
const prefsStatus = document.getElementById("prefs-status");

/** Shows a status message; state is "busy", "ok" or "error". */
function say(state, message) {
  status.dataset.state = state;
  status.textContent = message;
}

/** Fills the form with the options in force; a setting policy makes is shown read-only. */
async function load() {
  const settings = await chrome.runtime.sendMessage({ type: K.settings });
  serverInput.value = settings.server;
  tokenInput.value = settings.token;
  for (const [input, field] of [[serverInput, "server"], [tokenInput, "token"]]) {
    input.readOnly = settings.managed[field];
    document.getElementById(field + "-managed").hidden = !settings.managed[field];
  }
  saveButton.disabled = settings.managed.server && settings.managed.token;
  if (saveButton.disabled) say("ok", "Your organisation has set up this extension; there is nothing to change here.");
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  saveButton.disabled = true;
  say("busy", "Checking the server\u2026");
  try {
    const result = await chrome.runtime.sendMessage({
      type: K.save,
      server: serverInput.value,
      token: tokenInput.value,
    });
    say(result.ok ? "ok" : "error", result.message);
  } catch (e) {
    say("error", "The extension could not check the server: " + e.message);
  } finally {
    saveButton.disabled = false;
  }
});

/** Shows the admin's own choices (kept in this browser only). */
async function loadPrefs() {
  const { [K.prefs]: prefs } = await chrome.storage.local.get(K.prefs);
  autoRecord.checked = !!(prefs && prefs.auto_record === true);
}

autoRecord.addEventListener("change", async () => {
  await chrome.storage.local.set({ [K.prefs]: { auto_record: autoRecord.checked } });
  prefsStatus.dataset.state = "ok";
  prefsStatus.textContent = autoRecord.checked
    ? "Saved: a later date on a directory page is recorded without asking."
    : "Saved: the extension asks before it records a new date.";
});

loadPrefs();
load().catch((e) => say("error", "The extension could not read its settings: " + e.message));
