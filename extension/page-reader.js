/* scimwatch page reader: what an admin.atlassian.com directory page says about its SCIM API key.
 * One pure function of a document: read(document, {language}) returns
 * {org_id, directory_id, directory_name, expires_at: "YYYY-MM-DD"} or null. Atlassian documents neither the
 * labels nor the date format, so it reads the date near words about expiry in any of the forms the UI may
 * show, and answers null whenever something is missing, unclear or contradicts itself: never a guess. */
globalThis.ScimwatchPageReader = (() => {
  "use strict";
  const ID = /^[A-Za-z0-9._~-]{1,200}$/;
  const SCIM_URL = /https:\/\/api\.atlassian\.com\/scim\/directory\/([A-Za-z0-9._~-]+)/g;
  const EXPIRY_WORDS = /expir(?:e|y|es|ed|ation|ing)/gi;
  const ENGLISH_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december"];
  const SCOPE_LEVELS = 4; // how far up from the words about expiry the date may sit (label, row, list, card)
  const NAME_LIMIT = 200;

  /** Returns {name or abbreviation: month number} for English and the browser's language. */
  const monthNames = (language) => {
    const names = new Map();
    const add = (name, month) => {
      const key = name.toLowerCase().replace(/\.$/, "");
      if (key.length >= 3 && !/\d/.test(key)) names.set(key, month);
    };
    ENGLISH_MONTHS.forEach((name, i) => {
      add(name, i + 1);
      add(name.slice(0, 3), i + 1);
    });
    add("sept", 9);
    for (const month of ["long", "short"]) {
      try {
        const format = new Intl.DateTimeFormat(language, { month, timeZone: "UTC" });
        for (let i = 0; i < 12; i += 1) add(format.format(Date.UTC(2027, i, 15)), i + 1);
      } catch (e) { /* an unknown language: English only */ }
    }
    return names;
  };

  /** Returns "dmy" or "mdy", how the language writes numeric dates; null when it has no region to say. */
  const numericOrder = (language) => {
    try {
      // "en" alone may be en-US (3/1/2027) or en-GB (1/3/2027): only a region decides.
      if (!new Intl.Locale(language).region) return null;
      const parts = new Intl.DateTimeFormat(language, { day: "numeric", month: "numeric", year: "numeric" })
        .formatToParts(Date.UTC(2027, 10, 22));
      const order = parts.filter((p) => p.type === "day" || p.type === "month").map((p) => p.type[0]).join("");
      return order === "dm" ? "dmy" : order === "md" ? "mdy" : null;
    } catch (e) {
      return null;
    }
  };

  /** Returns "YYYY-MM-DD" for a real calendar date between 2000 and 2100, else null. */
  const isoDate = (year, month, day) => {
    const y = Number(year);
    const m = Number(month);
    const d = Number(day);
    if (!(y >= 2000 && y <= 2100 && m >= 1 && m <= 12 && d >= 1 && d <= 31)) return null;
    const date = new Date(Date.UTC(y, m - 1, d));
    if (date.getUTCMonth() !== m - 1) return null; // 31 April, 29 February of a common year
    return date.toISOString().slice(0, 10);
  };

  /** Returns a date finder for one language: text -> [{at, date}] in order; date null where unreadable. */
  const dateFinder = (language) => {
    const months = monthNames(language);
    const monthOf = (word) => months.get(word.toLowerCase().replace(/\.$/, ""));
    const month = "(\\p{L}{3,}\\.?)";
    // [pattern, (match) -> [year, month, day] or undefined when the word is no month: then it is no date at all]
    const forms = [
      [/\b(\d{4})-(\d{2})-(\d{2})\b/gu, (m) => [m[1], m[2], m[3]]],
      [new RegExp(`${month}\\s+(\\d{1,2})(?:st|nd|rd|th)?,?\\s+(\\d{4})\\b`, "gu"),
        (m) => monthOf(m[1]) && [m[3], monthOf(m[1]), m[2]]],
      [new RegExp(`\\b(\\d{1,2})\\.?\\s+(?:de\\s+)?${month},?\\s+(?:de\\s+)?(\\d{4})\\b`, "gu"),
        (m) => monthOf(m[2]) && [m[3], monthOf(m[2]), m[1]]],
      [/\b(\d{1,4})([/.])(\d{1,2})\2(\d{2,4})\b/gu, (m) => numeric(m[1], m[3], m[4])],
    ];
    const order = numericOrder(language);
    /** Year first is never ambiguous; day and month are only when they differ and the region does not decide. */
    const numeric = (a, b, c) => {
      if (a.length === 4) return [a, b, c];
      if (c.length !== 4) return [0, 0, 0]; // a two-digit year: a date we cannot read
      if (Number(a) === Number(b) || order === "dmy") return [c, b, a];
      return order === "mdy" ? [c, a, b] : [0, 0, 0];
    };
    return (text) => {
      const found = [];
      for (const [pattern, parse] of forms) {
        for (const m of text.matchAll(pattern)) {
          const end = m.index + m[0].length;
          const parts = parse(m);
          if (!parts || found.some((f) => m.index < f.end && end > f.at)) continue;
          found.push({ at: m.index, end, date: isoDate(...parts) });
        }
      }
      return found.sort((x, y) => x.at - y.at);
    };
  };

  /** Returns the visible text of a node, blocks kept apart by newlines, without scripts or styles. */
  const textOf = (node) => {
    const chunks = [];
    const walker = node.ownerDocument.createTreeWalker(node, NodeFilter.SHOW_TEXT, {
      acceptNode: (t) => (t.parentElement && t.parentElement.closest("script, style, noscript, template, [hidden]")
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    for (let t = walker.nextNode(); t; t = walker.nextNode()) chunks.push({ node: t, text: t.data });
    return chunks;
  };

  /** Returns the directory id every SCIM base URL on the page names, or null (none, or more than one). */
  const directoryId = (text) => {
    const ids = new Set([...text.matchAll(SCIM_URL)].map((m) => m[1]));
    const [id] = ids;
    return ids.size === 1 && ID.test(id) ? id : null;
  };

  /** Returns the org id in the URL's /o/{org_id}/, or null. */
  const orgId = (doc) => {
    const match = /^\/o\/([^/]+)\//.exec(new URL(doc.URL).pathname);
    if (!match) return null;
    try {
      const id = decodeURIComponent(match[1]);
      return ID.test(id) && !/^\.+$/.test(id) ? id : null;
    } catch (e) {
      return null;
    }
  };

  /** Returns the page's one main heading (the directory's name), or null. */
  const directoryName = (doc) => {
    const headings = [...doc.querySelectorAll("h1")].filter((h) => !h.closest("[hidden]"));
    if (headings.length !== 1) return null;
    const name = headings[0].textContent.replace(/\s+/g, " ").trim();
    return name && name.length <= NAME_LIMIT ? name : null;
  };

  /** Returns the text under a table header cell: its column in the one body row, or null (no table, or more rows). */
  const columnText = (node) => {
    const cell = node.parentElement && node.parentElement.closest("th");
    const table = cell && cell.closest("table");
    if (!table) return null;
    const rows = [...table.querySelectorAll("tbody tr")];
    const below = rows.length === 1 ? rows[0].cells[cell.cellIndex] : null;
    return below ? below.textContent : "";
  };

  /**
   * Returns the date one mention of expiry points at: undefined when none, null when unreadable. A header
   * cell's date is in its column. Otherwise, in the nearest enclosing element (at most SCOPE_LEVELS up) that
   * holds a date: the first date after the words; else, when the words end that element, a date in the text
   * just before them (a value above its label); never one earlier in the same sentence ("made before
   * 1 Jan 2025 do not expire"), and null when the text after the words is no date we can read.
   */
  const pointedDate = (chunk, words, findDates) => {
    const column = columnText(chunk.node);
    if (column !== null) {
      const dates = findDates(column);
      return dates.length === 1 ? dates[0].date : dates.length ? null : undefined;
    }
    let scope = chunk.node.parentElement;
    for (let level = 0; scope && level <= SCOPE_LEVELS; level += 1, scope = scope.parentElement) {
      const inside = textOf(scope).filter((c) => c.text.trim());
      const starts = [];
      let offset = 0;
      for (const c of inside) {
        starts.push(offset);
        offset += c.text.length + 1;
      }
      const dates = findDates(inside.map((c) => c.text).join("\n"));
      if (!dates.length) continue;
      const i = inside.findIndex((c) => c.node === chunk.node);
      const after = dates.find((d) => d.at >= starts[i] + words.index);
      if (after) return after.date;
      if (i < inside.length - 1) return null; // the label's value follows it and is no date we can read
      // The last words of the scope: a label under its value, which is the text just before it.
      const before = i > 0 && dates.filter((d) => d.at >= starts[i - 1] && d.end < starts[i]).pop();
      return before ? before.date : undefined;
    }
    return undefined;
  };

  /** Returns the expiry date the page shows, or null: every mention of expiry that points at a date must agree. */
  const expiry = (doc, findDates) => {
    const seen = new Set();
    for (const chunk of textOf(doc.body)) {
      for (const words of chunk.text.matchAll(EXPIRY_WORDS)) {
        const date = pointedDate(chunk, words, findDates);
        if (date !== undefined) seen.add(date);
      }
    }
    const [date] = seen;
    return seen.size === 1 && date ? date : null;
  };

  /** Reads a directory page: {org_id, directory_id, directory_name, expires_at} or null when any is unclear. */
  const read = (doc, options) => {
    try {
      const language = (options && options.language) || "en-US";
      const org = orgId(doc);
      if (!org || !doc.body) return null;
      const id = directoryId(textOf(doc.body).map((c) => c.text).join("\n"));
      const name = id && directoryName(doc);
      const expires = name && expiry(doc, dateFinder(language));
      return expires ? { org_id: org, directory_id: id, directory_name: name, expires_at: expires } : null;
    } catch (e) {
      return null; // a page shaped in a way we did not foresee: say nothing
    }
  };

  return Object.freeze({ read });
})();
