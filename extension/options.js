/* scimwatch options page: saves the server address and token once the
 * service worker has checked them, and says plainly what is wrong if not. */
"use strict";
const K = globalThis.ScimwatchKeys;
const form = document.getElementById("scimwatch-options");
const serverInput = document.getElementById("server-url");
const tokenInput = document.getElementById("token");
const saveButton = document.getElementById("save");
const status = document.getElementById("status");

/** Shows a status message; state is "busy", "ok" or "error". */
function say(state, message) {
  status.dataset.state = state;
  status.textContent = message;
}

chrome.storage.sync.get(K.options).then(({ [K.options]: options }) => {
  if (!options) return;
  serverInput.value = options.server || "";
  tokenInput.value = options.token || "";
});

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
