/* scimwatch admin UI: the reader's local time beside each UTC time, and copy buttons.
 * An external file because the pages' policy allows no inline script. Pages work without it. */
(() => {
  "use strict";
  const clock = { hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  const timeOnly = new Intl.DateTimeFormat(undefined, clock);
  const withDay = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", ...clock });
  const sameDay = (d) => d.getFullYear() === d.getUTCFullYear() && d.getMonth() === d.getUTCMonth() &&
    d.getDate() === d.getUTCDate();
  document.querySelectorAll("time[datetime]").forEach((time) => {
    const moment = new Date(time.getAttribute("datetime"));
    // Where local time is UTC, the UTC text already says it.
    if (isNaN(moment) || moment.getTimezoneOffset() === 0) return;
    const local = document.createElement("span");
    local.className = "local";
    // The day is named only when it differs from the UTC day (the deadline an American reader can miss).
    local.textContent = " (" + (sameDay(moment) ? timeOnly : withDay).format(moment) + " your time)";
    time.after(local);
  });
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const input = document.getElementById(button.dataset.copy);
    if (!input || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(input.value).then(
        () => { button.textContent = "Copied"; },
        () => { input.select(); });
    });
  });
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
})();
