// Knowledge appliance page: ask a question (or a follow-up), stream the answer, show which
// sources it cites (and each cited passage in a side panel) and how far to trust it; rate the
// answer; see the knowledge base, its indexing progress, and add files to it. Plain JavaScript,
// nothing loaded from elsewhere. Server text only ever goes in via textContent (the answer's
// light formatting is built as DOM nodes, never as HTML).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const question = $("question");
  const button = $("ask-button");
  const stopButton = $("stop-button");
  const statusLine = $("status");
  const errorBox = $("error");
  const conversation = $("conversation");
  const historyList = $("history");
  const newConversation = $("new-conversation");
  const result = $("result");
  const asked = $("asked");
  const searchedFor = $("searched-for");
  const searchedForText = $("searched-for-text");
  const answerBox = $("answer");
  const answerMode = $("answer-mode");
  const answerHeading = $("answer-heading");
  const actionBox = $("action");
  const trustBox = $("trust");
  const trustValue = $("trust-value");
  const trustDetail = $("trust-detail");
  const trustHelp = $("trust-help");
  const trustExplain = $("trust-explain");
  const warnings = $("warnings");
  const timing = $("timing");
  const sources = $("sources");
  const sourcesHeading = $("sources-heading");
  const citationList = $("citations");
  const alsoRetrieved = $("also-retrieved");
  const alsoTitle = $("also-title");
  const alsoNote = $("also-note");
  const uncitedList = $("uncited");
  const documentsPanel = $("documents-panel");
  const feedbackBox = $("feedback");
  const feedbackStatus = $("feedback-status");
  const voteButtons = [$("vote-up"), $("vote-down")];
  const serverStatus = $("server-status");
  const serverStatusText = $("server-status-text");
  const panel = $("passage-panel");
  const panelBackdrop = $("panel-backdrop");
  const panelTitle = $("panel-title");
  const panelWhere = $("panel-where");
  const panelOpen = $("panel-open");
  const panelStatus = $("panel-status");
  const panelPassages = $("panel-passages");
  const panelClose = $("panel-close");
  const pageBox = $("page");

  // Every word the page says comes from its language's catalogue (static/i18n/<lang>.json),
  // which the server puts into the page: t("key", {name: value}) fills in its {name}s.
  const I18N = (() => {
    try {
      return JSON.parse($("i18n").textContent);
    } catch (_) {
      return {};
    }
  })();
  const LANG = document.documentElement.lang || "en";
  const NUMBERS = new Intl.NumberFormat(LANG);

  function hasWords(key) {
    return Object.prototype.hasOwnProperty.call(I18N, key);
  }

  function t(key, values) {
    const text = hasWords(key) ? I18N[key] : key;
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  }

  // A sentence with a count: key_one for 1, key_other for the rest (as English needs).
  function tn(key, n, values) {
    return t(key + (n === 1 ? "_one" : "_other"), Object.assign({ n: NUMBERS.format(n) }, values || {}));
  }

  let busy = false;
  let answerText = "";
  // The conversation: its id (from the last "done"), and the turn shown in full right now,
  // which moves up into the history when the next question is asked.
  let conversationId = null;
  let currentTurn = null;
  // The passages of the answer shown, by number, for the side panel; the answer's id, to rate it.
  let citationsByNumber = new Map();
  let answerId = null;

  // While a question is under way the status line says what is happening, with a spinner.
  function setStatus(text) {
    statusLine.textContent = text || "";
    statusLine.classList.toggle("working", !!text && busy);
  }

  // A message for the reader; `problem` may be {text, detail}: the detail is one click away.
  function showError(problem, kind) {
    errorBox.replaceChildren();
    if (problem && typeof problem === "object") {
      errorBox.appendChild(document.createTextNode(problem.text));
      if (problem.detail) {
        const more = el("details", "error-detail");
        more.appendChild(el("summary", null, t("error.details")));
        more.appendChild(el("p", null, problem.detail));
        errorBox.appendChild(more);
      }
    } else {
      errorBox.textContent = problem;
    }
    errorBox.dataset.kind = kind || "";
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.dataset.kind = "";
    errorBox.hidden = true;
  }

  // Busy: Stop takes the place of Ask (a disabled button is hard to read), keeping the focus.
  function setBusy(value) {
    busy = value;
    const focused = document.activeElement === (value ? button : stopButton);
    button.hidden = value;
    stopButton.hidden = !value;
    newConversation.disabled = value;
    form.setAttribute("aria-busy", value ? "true" : "false");
    if (focused) (value ? stopButton : question).focus();
  }

  function busyMessage(seconds) {
    const n = Number(seconds);
    return Number.isFinite(n) && n > 0
      ? t("ask.busy_in", { seconds: Math.ceil(n) })
      : t("ask.busy");
  }

  // The position in the line of questions waiting for the assistant (those being answered
  // are not in it): 1 is next.
  function queueMessage(position) {
    const place = Math.max(1, Math.floor(Number(position) || 1));
    return place === 1
      ? t("ask.queue_next")
      : t("ask.queue_place", { place: place });
  }

  function percent(value) {
    const n = Number(value);
    return Number.isFinite(n) ? Math.round(Math.min(1, Math.max(0, n)) * 100) : 0;
  }

  function listNumbers(numbers) {
    const marks = numbers.map((n) => "[" + n + "]");
    if (marks.length <= 1) return marks.join("");
    return marks.slice(0, -1).join(", ") + t("list.and") + marks[marks.length - 1];
  }

  // ---- answer text: light Markdown (paragraphs, lists, code, bold), [n] links to sources ----
  // Built from DOM nodes and text nodes only: whatever the model or a document says, a
  // "<script>" in it is shown as text.

  const FENCE = /^\s*```/;
  const BULLET = /^\s*[-*]\s+(.*)$/;
  const NUMBERED = /^\s*(\d+)\.\s+(.*)$/;
  const HEADING = /^\s*#{1,6}\s+(.*)$/;
  const INLINE = /`([^`\n]+)`|\*\*(?=\S)([^\n]*?\S)\*\*|\[(\d+)\]/g;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function appendCitationMark(parent, n, raw) {
    if (citationsByNumber.has(n) || document.getElementById("citation-" + n)) {
      const link = el("a", "cite", raw);
      link.href = "#citation-" + n;
      link.title = t("sources.show_n", { n: n });
      link.addEventListener("click", (event) => {
        event.preventDefault();
        flashCitation(n);
        openPassage(n, link);
      });
      parent.appendChild(link);
    } else if (!answerBox.classList.contains("streaming")) {
      const bad = el("span", "cite-invalid", raw);
      bad.title = t("sources.not_a_source");
      parent.appendChild(bad);
    } else {
      parent.appendChild(document.createTextNode(raw));
    }
  }

  // Inline spans: `code`, **bold** (whose inside may hold [n]), and [n].
  function appendInline(parent, text, inBold) {
    const pattern = new RegExp(INLINE.source, "g");
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      if (match[1] !== undefined) {
        parent.appendChild(el("code", null, match[1]));
      } else if (match[2] !== undefined && !inBold) {
        const strong = el("strong");
        appendInline(strong, match[2], true);
        parent.appendChild(strong);
      } else if (match[3] !== undefined) {
        appendCitationMark(parent, match[3], match[0]);
      } else {
        parent.appendChild(document.createTextNode(match[0]));
      }
      last = pattern.lastIndex;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderMarkdown(text, into) {
    const lines = String(text).replace(/\r\n?/g, "\n").split("\n");
    let para = null; // the lines of the paragraph being gathered
    let list = null; // the <ul>/<ol> being filled
    const flushPara = () => {
      if (para) {
        const p = el("p");
        appendInline(p, para.join("\n"));
        into.appendChild(p);
      }
      para = null;
    };
    const endBlocks = () => {
      flushPara();
      list = null;
    };
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (FENCE.test(line)) {
        endBlocks();
        const body = [];
        i++;
        while (i < lines.length && !FENCE.test(lines[i])) body.push(lines[i++]);
        const pre = el("pre", "code-block");
        pre.appendChild(el("code", null, body.join("\n")));
        into.appendChild(pre);
        continue;
      }
      if (!line.trim()) {
        endBlocks();
        continue;
      }
      const bullet = BULLET.exec(line);
      const numbered = bullet ? null : NUMBERED.exec(line);
      if (bullet || numbered) {
        flushPara();
        const tag = bullet ? "UL" : "OL";
        if (!list || list.tagName !== tag) {
          list = el(tag.toLowerCase());
          if (numbered && numbered[1] !== "1") list.start = Number(numbered[1]);
          into.appendChild(list);
        }
        const item = el("li");
        appendInline(item, bullet ? bullet[1] : numbered[2]);
        list.appendChild(item);
        continue;
      }
      if (list && /^\s+\S/.test(line)) {
        // an indented line under a list item continues it
        const item = list.lastElementChild;
        item.appendChild(document.createTextNode("\n"));
        appendInline(item, line.trim());
        continue;
      }
      const heading = HEADING.exec(line);
      if (heading) {
        endBlocks();
        const p = el("p", "md-heading");
        const strong = el("strong");
        appendInline(strong, heading[1], true);
        p.appendChild(strong);
        into.appendChild(p);
        continue;
      }
      list = null;
      if (!para) para = [];
      para.push(line);
    }
    flushPara();
  }

  function renderAnswer(text) {
    answerBox.replaceChildren();
    if (text) renderMarkdown(text, answerBox);
  }

  function flashCitation(n) {
    const item = document.getElementById("citation-" + n);
    if (!item) return;
    item.scrollIntoView({ behavior: "smooth", block: "nearest" });
    item.classList.add("flash");
    setTimeout(() => item.classList.remove("flash"), 1500);
  }

  // ---- citations ----

  // How close a passage is to the question: its cosine similarity as a percentage (the
  // search's fusion score is a rank statistic, and "0.033" read as 3 %).
  function relevanceText(c) {
    const r = Number(c && c.relevance);
    return isFinite(r) ? t("sources.relevance", { percent: Math.max(0, Math.round(r * 100)) }) : "";
  }

  // Quoted from the documents, written by the model, or not found; and why a model's answer
  // was replaced by quotes.
  function renderMode(data) {
    const mode = data && data.mode;
    const refused = { nothing_indexed: t("answer.mode_nothing"), nothing_matches: t("answer.mode_no_match") };
    const texts = {
      extractive: data && data.replaced_because ? t("answer.mode_replaced") : t("answer.mode_extractive"),
      generated: t("answer.mode_generated"),
      none: (data && refused[data.refusal]) || t("answer.mode_none"),
    };
    let text = texts[mode] || "";
    if (data && data.stopped === "max_tokens") text += " — " + t("answer.cut_off");
    const unknown = Array.isArray(data && data.unknown_names) ? data.unknown_names.map(String) : [];
    const versions = Array.isArray(data && data.unmatched_versions) ? data.unmatched_versions.map(String) : [];
    const quoted = (list) => list.map((n) => "“" + n + "”").join(", ");
    if (mode === "none" && unknown.length) {
      text += " — " + t("answer.unknown_names", { names: quoted(unknown) });
    } else if (mode && versions.length) {
      // An answer about another version than the one asked for says so, refused or not.
      text += " — " + t("answer.unmatched_versions", { versions: quoted(versions) });
    }
    answerMode.textContent = text;
    answerMode.title = data && data.replaced_because ? String(data.replaced_because) : "";
    answerMode.className = "answer-mode " + (mode || "");
    answerMode.hidden = !text;
  }

  // A refused question: the closest passages, plainly marked as not an answer.
  function renderRelated(related) {
    if (!Array.isArray(related) || related.length === 0) return;
    for (const c of related) {
      if (c && c.number !== undefined) citationsByNumber.set(String(c.number), c);
      uncitedList.appendChild(citationItem(c, "uncited"));
    }
    alsoTitle.textContent = t("sources.related");
    alsoNote.textContent = t("sources.related_note");
    alsoRetrieved.hidden = false;
    citationList.hidden = true;
    sourcesHeading.hidden = true;
    sources.hidden = false;
  }

  function where(c) {
    if (c.page === null || c.page === undefined) return String(c.source);
    return t("sources.where_page", { source: String(c.source), page: c.page });
  }

  // One passage: a chip (number, file, page, heading, score) that opens the side panel, and
  // the start of the passage under it.
  function citationItem(c, state) {
    const item = document.createElement("li");
    item.id = "citation-" + c.number;
    item.className = state;
    if (typeof c.number === "number") item.value = c.number;

    const chip = el("button", "chip");
    chip.type = "button";
    chip.dataset.n = String(c.number);
    chip.setAttribute("aria-haspopup", "dialog");
    chip.setAttribute("aria-controls", "passage-panel");
    chip.title = t("sources.show");
    const source = el("span", "cite-source", where(c));
    chip.appendChild(source);
    const meta = el("span", "cite-meta");
    const parts = [];
    if (c.heading) parts.push(String(c.heading));
    parts.push(relevanceText(c));
    meta.textContent = parts.join(" · ");
    chip.appendChild(meta);
    if (state === "cited") chip.appendChild(el("span", "badge cited-badge", t("sources.cited_badge")));
    if (c.ocr) {
      const scan = el("span", "badge ocr-badge", t("sources.scan_badge"));
      scan.title = t("sources.scan_note");
      chip.appendChild(scan);
    }
    chip.addEventListener("click", () => openPassage(String(c.number), chip));
    item.appendChild(chip);

    if (c.snippet) item.appendChild(el("p", "cite-snippet", c.snippet));
    return item;
  }

  // While the answer is written the passages are only "given to the model"; once it is done
  // they split into the ones the answer cites and the ones it does not (never shown as used).
  function renderCitations(citations, final) {
    citationsByNumber = new Map();
    if (Array.isArray(citations)) {
      for (const c of citations) if (c && c.number !== undefined) citationsByNumber.set(String(c.number), c);
    }
    citationList.replaceChildren();
    uncitedList.replaceChildren();
    alsoRetrieved.hidden = true;
    if (!Array.isArray(citations) || citations.length === 0) {
      sources.hidden = true;
      return;
    }
    if (!final) {
      sourcesHeading.textContent = t("sources.given");
      sourcesHeading.hidden = false;
      citationList.hidden = false;
      for (const c of citations) citationList.appendChild(citationItem(c, "pending"));
      sources.hidden = false;
      return;
    }
    const cited = citations.filter((c) => c.cited === true);
    const uncited = citations.filter((c) => c.cited !== true);
    sourcesHeading.textContent = t("sources.cited");
    sourcesHeading.hidden = cited.length === 0;
    citationList.hidden = cited.length === 0;
    for (const c of cited) citationList.appendChild(citationItem(c, "cited"));
    for (const c of uncited) uncitedList.appendChild(citationItem(c, "uncited"));
    alsoTitle.textContent = cited.length ? t("sources.also") : t("sources.found");
    alsoNote.textContent = t("sources.also_note");
    alsoRetrieved.hidden = uncited.length === 0;
    sources.hidden = false;
  }

  // ---- trust, warnings, timings ----

  // Plain levels, never a percentage: "70 %" next to an answer citing nothing read as
  // "mostly right". Only an answer citing real sources that back it is shown as backed.
  const TRUST_LEVELS = {
    backed: t("trust.backed"),
    partly: t("trust.partly"),
    not_backed: t("trust.not_backed"),
    quoted: t("trust.quoted"),
  };

  function trustLevel(trust) {
    if (Object.prototype.hasOwnProperty.call(TRUST_LEVELS, trust.level)) return trust.level;
    const cited = Array.isArray(trust.cited) && trust.cited.length > 0;
    const invalid = Array.isArray(trust.invalid_citations) && trust.invalid_citations.length > 0;
    const support = Number(trust.support) || 0;
    if (!cited) return "not_backed";
    if (support >= 0.75 && !invalid) return "backed";
    return support >= 0.4 ? "partly" : "not_backed";
  }

  function renderTrust(trust, citations, answer) {
    trustBox.hidden = true;
    trustBox.className = "trust";
    trustExplain.hidden = true;
    trustHelp.setAttribute("aria-expanded", "false");
    const warningTexts = [];
    const given = Array.isArray(citations) && citations.length > 0;
    if (trust && typeof trust === "object" && given) {
      const level = trustLevel(trust);
      trustBox.classList.add(level);
      trustValue.textContent = TRUST_LEVELS[level];
      trustDetail.textContent = t("trust.detail", {
        support: percent(trust.support),
        citations: percent(trust.citations),
        relevance: percent(trust.relevance),
      });
      trustBox.hidden = false;

      const invalid = Array.isArray(trust.invalid_citations) ? trust.invalid_citations : [];
      if (invalid.length > 0) warningTexts.push(tn("trust.invalid", invalid.length, { numbers: listNumbers(invalid) }));
      const cited = Array.isArray(trust.cited) ? trust.cited : [];
      if (cited.length === 0) warningTexts.push(t("trust.uncited"));
    }
    warnings.replaceChildren();
    for (const text of warningTexts) {
      const item = document.createElement("li");
      item.textContent = text;
      warnings.appendChild(item);
    }
    warnings.hidden = warningTexts.length === 0;
  }

  function renderTiming(timings) {
    const parts = [];
    if (timings && typeof timings.total_ms === "number") {
      parts.push(t("answer.seconds", { seconds: seconds(timings.total_ms) }));
    }
    if (timings && typeof timings.queue_ms === "number" && timings.queue_ms >= 500) {
      parts.push(t("answer.waited", { seconds: seconds(timings.queue_ms) }));
    }
    timing.textContent = parts.join(" · ");
  }

  function seconds(ms) {
    return new Intl.NumberFormat(LANG, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ms / 1000);
  }

  function renderSearchedFor(typed, standalone) {
    const norm = (s) => String(s || "").trim().replace(/\s+/g, " ").toLowerCase();
    if (typeof standalone === "string" && standalone.trim() && norm(standalone) !== norm(typed)) {
      searchedForText.textContent = t("answer.searched_for", { query: standalone.trim() });
      searchedFor.hidden = false;
    } else {
      searchedForText.textContent = "";
      searchedFor.hidden = true;
    }
  }

  // ---- the conversation ----

  function addToHistory(turn) {
    const item = document.createElement("li");
    item.className = "turn";
    const q = document.createElement("p");
    q.className = "turn-question";
    q.textContent = turn.question;
    const a = document.createElement("div");
    a.className = "turn-answer";
    renderMarkdown(turn.answer, a); // as it was shown: no raw ** or ``
    // Shown in three lines; the whole answer on request.
    const more = el("button", "link-button turn-more", t("conversation.show_all"));
    more.type = "button";
    more.setAttribute("aria-expanded", "false");
    more.addEventListener("click", () => {
      const open = a.classList.toggle("open");
      more.textContent = open ? t("conversation.show_less") : t("conversation.show_all");
      more.setAttribute("aria-expanded", String(open));
    });
    item.append(q, a, more);
    historyList.appendChild(item);
  }

  function clearResult() {
    answerText = "";
    asked.textContent = "";
    renderSearchedFor("", "");
    renderCitations([], false);
    renderAnswer("");
    renderTrust(null, [], "");
    timing.textContent = "";
    setFeedback(null);
    closePanel(false);
    clearAction();
    result.hidden = true;
  }

  function startNewConversation() {
    if (busy) return;
    conversationId = null;
    currentTurn = null;
    historyList.replaceChildren();
    conversation.hidden = true;
    clearError();
    clearResult();
    question.value = "";
    question.focus();
  }

  // ---- Server-Sent Events over fetch (EventSource cannot POST) ----

  function parseFrame(frame) {
    let kind = "message";
    const data = [];
    for (const line of frame.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") kind = value;
      else if (field === "data") data.push(value);
    }
    if (data.length === 0) return null;
    try {
      return { kind, data: JSON.parse(data.join("\n")) };
    } catch (err) {
      throw new Error("the appliance sent a malformed '" + kind + "' event (" + err.message + ")");
    }
  }

  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = parseFrame(frame);
        if (event && onEvent(event) === false) {
          await reader.cancel();
          return;
        }
      }
    }
    buffer += decoder.decode();
    if (buffer.trim()) {
      const event = parseFrame(buffer);
      if (event) onEvent(event);
    }
  }

  // What went wrong, for the reader (by the error's code), and the server's own words for
  // the administrator (shown on request).
  async function errorFrom(response) {
    let body = {};
    try {
      body = (await response.json()) || {};
    } catch (_) {
      /* not JSON */
    }
    const code = String(body.code || "");
    const detail = String(body.error || response.statusText || "HTTP " + response.status);
    const busy = code === "busy" || (response.status === 503 && /^busy/.test(detail));
    if (busy) return { text: busyMessage(response.headers.get("Retry-After")), detail: "" };
    if (response.status === 503 && !code) return { text: t("error.not_ready"), detail: detail };
    return { text: hasWords("error." + code) ? t("error." + code) : t("error.other"), detail: detail };
  }

  // ---- asking ----

  let stopAnswer = null; // stops the answer under way (the server frees its slot at once)

  // Stopped by the reader: what was written so far stays, marked as incomplete.
  function showStopped(text) {
    result.hidden = false;
    answerMode.textContent = answerText ? t("ask.stopped") : t("ask.stopped_early");
    answerMode.className = "answer-mode stopped";
    answerMode.hidden = false;
    if (answerText) currentTurn = { question: text, answer: answerText };
  }

  // An answer cut off by an error: what came stays, marked, with a way to ask again.
  function showBroken(text) {
    result.hidden = false;
    answerMode.className = "answer-mode broken";
    answerMode.replaceChildren(document.createTextNode(t("ask.broken") + " "));
    const retry = el("button", "secondary retry", t("ask.again"));
    retry.type = "button";
    retry.addEventListener("click", () => {
      question.value = text;
      ask();
    });
    answerMode.appendChild(retry);
    answerMode.hidden = false;
  }

  $("language-choice").addEventListener("change", () => $("language").submit());

  // A follow-up is searched for as the model rewrote it; when that rewrite went wrong, the
  // reader asks what they typed, on its own (a new conversation).
  $("search-typed").addEventListener("click", () => {
    if (busy || !currentTurn) return;
    const typed = currentTurn.question;
    conversationId = null;
    currentTurn = null;
    historyList.replaceChildren();
    conversation.hidden = true;
    question.value = typed;
    ask();
  });

  stopButton.addEventListener("click", () => {
    if (stopAnswer) stopAnswer();
  });

  async function ask() {
    if (busy) return;
    clearError();
    const text = question.value.trim();
    if (!text) {
      showError(t("ask.empty"));
      question.focus();
      return;
    }

    setBusy(true);
    setStatus(t("ask.searching"));
    // The answer shown until now stays until the new one begins (a question that fails at
    // once loses nothing); then it moves up into the history.
    let begun = false;
    const begin = () => {
      if (begun) return;
      begun = true;
      if (currentTurn && conversationId) addToHistory(currentTurn);
      currentTurn = null;
      clearResult();
      asked.textContent = text;
    };

    const body = { question: text };
    if (conversationId) body.conversation_id = conversationId;

    let finished = false;
    const stopper = new AbortController();
    stopAnswer = () => stopper.abort();
    try {
      const response = await fetch("/api/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
        signal: stopper.signal,
      });
      if (!response.ok) {
        const problem = await errorFrom(response);
        showError(problem, response.status === 503 && !/^busy/.test(problem.detail) ? "not-ready" : "");
        return;
      }
      if (!response.body) {
        showError(t("ask.no_stream"));
        return;
      }
      await readEvents(response, (event) => {
        if (event.kind !== "error") begin();
        switch (event.kind) {
          case "queued":
            setStatus(queueMessage(event.data && event.data.position));
            break;
          case "citations":
            result.hidden = false;
            renderCitations(event.data, false);
            setStatus(t("ask.writing"));
            answerBox.classList.add("streaming");
            answerBox.setAttribute("aria-busy", "true"); // read out once, when complete
            break;
          case "token":
            result.hidden = false;
            answerText += String(event.data);
            renderAnswer(answerText);
            break;
          case "proposal":
            setStatus(t("ask.preparing_action")); // its "done" follows right away
            break;
          case "done": {
            const data = event.data || {};
            result.hidden = false;
            if (data.kind === "proposal") {
              // An action, not an answer: nothing runs until the user confirms it.
              answerBox.classList.remove("streaming");
              answerText = "";
              renderProposal(text, data);
              if (typeof data.conversation_id === "string" && data.conversation_id) {
                conversationId = data.conversation_id;
                conversation.hidden = false;
              }
              currentTurn = { question: text, answer: String(data.answer || "") };
              if (question.value.trim() === text) question.value = "";
              finished = true;
              return false;
            }
            answerBox.classList.remove("streaming");
            renderCitations(data.citations || [], true);
            renderRelated(data.related);
            renderMode(data);
            answerText = typeof data.answer === "string" ? data.answer : answerText;
            renderAnswer(answerText);
            renderTrust(data.trust, data.citations, answerText);
            renderTiming(data.timings);
            renderSearchedFor(text, data.standalone_question);
            setFeedback(typeof data.id === "string" && data.id ? data.id : null);
            if (typeof data.conversation_id === "string" && data.conversation_id) {
              conversationId = data.conversation_id;
              currentTurn = { question: text, answer: answerText };
              conversation.hidden = false;
            }
            if (question.value.trim() === text) question.value = "";
            finished = true;
            return false;
          }
          case "error": {
            const data = event.data || {};
            if (begun && answerText) {
              showBroken(text);
            } else {
              showError(
                data.retry_after !== undefined && data.retry_after !== null
                  ? busyMessage(data.retry_after)
                  : { text: t("ask.failed"), detail: String(data.error || "") },
              );
            }
            finished = true;
            return false;
          }
          default:
            break;
        }
        return true;
      });
      if (!finished && begun && answerText) showBroken(text);
      else if (!finished) showError(t("ask.connection_lost"));
      if (!finished) pollStatusNow();
    } catch (err) {
      if (stopper.signal.aborted) {
        showStopped(text);
      } else {
        const detail = err && err.message ? err.message : String(err);
        showError({ text: err instanceof TypeError ? t("error.unreachable") : t("error.other"), detail: detail });
        pollStatusNow();
      }
    } finally {
      stopAnswer = null;
      answerBox.classList.remove("streaming");
      answerBox.setAttribute("aria-busy", "false");
      if (answerText) renderAnswer(answerText);
      setStatus("");
      setBusy(false);
    }
  }

  // ---- actions: a proposed call that runs only once the user confirms it ----
  // The card: the tool, what the assistant said, one field per argument (prefilled, the
  // missing ones marked), Confirm and Cancel; then the result. Server text via textContent only.

  let actionCard = 0; // which card is shown: a late response for an older one is dropped

  function clearAction() {
    actionCard++;
    actionBox.replaceChildren();
    actionBox.hidden = true;
    actionBox.className = "action-card";
    answerBox.hidden = false;
    answerHeading.textContent = t("answer.heading");
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function schemaType(spec) {
    const type = spec.type;
    if (Array.isArray(type)) return String(type.find((x) => x !== "null") || "string");
    return typeof type === "string" ? type : "string";
  }

  function sameValue(a, b) {
    return JSON.stringify(a) === JSON.stringify(b);
  }

  // One argument: a <select> for an enum (or a yes/no), a number input, or a text input.
  function actionField(name, spec, value, id) {
    const type = schemaType(spec);
    const present = value !== undefined && value !== null;
    const field = { name, type, options: null, control: null };
    if (Array.isArray(spec.enum) || type === "boolean") {
      field.options = Array.isArray(spec.enum) ? spec.enum.slice() : [true, false];
      const select = el("select");
      const blank = el("option", null, "—");
      blank.value = "";
      select.appendChild(blank);
      field.options.forEach((choice, i) => {
        const label = type === "boolean" && !Array.isArray(spec.enum) ? (choice ? "yes" : "no") : String(choice);
        const option = el("option", null, label);
        option.value = String(i);
        if (present && sameValue(choice, value)) option.selected = true;
        select.appendChild(option);
      });
      field.control = select;
    } else {
      const input = el("input");
      if (type === "integer" || type === "number") {
        input.type = "number";
        input.step = type === "integer" ? "1" : "any";
        if (typeof value === "number") input.value = String(value);
      } else {
        input.type = "text";
        if (present) input.value = typeof value === "string" ? value : JSON.stringify(value);
        if (type === "array" || type === "object") input.placeholder = "JSON";
      }
      input.autocomplete = "off";
      field.control = input;
    }
    field.control.id = id;
    field.control.name = name;
    return field;
  }

  // The form's arguments: empty fields left out, numbers as numbers.
  function actionArguments(fields) {
    const args = {};
    for (const f of fields) {
      const c = f.control;
      if (f.options) {
        if (c.value !== "") args[f.name] = f.options[Number(c.value)];
        continue;
      }
      if (c.type === "number" && c.validity && c.validity.badInput) throw new Error(f.name + ": not a number");
      const text = c.value.trim();
      if (!text) continue;
      if (f.type === "integer" || f.type === "number") {
        const n = Number(text);
        if (!Number.isFinite(n)) throw new Error(t("action.not_number", { name: f.name }));
        args[f.name] = n;
      } else if (f.type === "array" || f.type === "object") {
        try {
          args[f.name] = JSON.parse(text);
        } catch (_) {
          throw new Error(t("action.not_json", { name: f.name }));
        }
      } else {
        args[f.name] = text;
      }
    }
    return args;
  }

  function renderProposal(askedText, data) {
    clearAction();
    const card = actionCard;
    const proposal = isObject(data.proposal) ? data.proposal : {};
    const tool = String(proposal.tool || "action");
    const schema = isObject(proposal.parameters) ? proposal.parameters : {};
    const properties = isObject(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
    const missing = new Set(Array.isArray(proposal.missing) ? proposal.missing.map(String) : []);
    const given = isObject(proposal.arguments) ? proposal.arguments : {};
    const prefix = "action-" + card;

    answerHeading.textContent = t("action.heading");
    answerBox.hidden = true;

    const head = el("p", "action-head");
    head.appendChild(el("span", "action-badge", t("action.badge")));
    const toolName = el("code", "action-tool", tool);
    toolName.id = prefix + "-tool";
    head.appendChild(toolName);
    actionBox.appendChild(head);
    if (proposal.description) actionBox.appendChild(el("p", "action-description", proposal.description));
    if (data.answer) actionBox.appendChild(el("p", "action-message", data.answer));

    const form = el("form", "action-form");
    form.noValidate = true;
    form.setAttribute("aria-labelledby", prefix + "-tool");
    const fieldset = el("fieldset", "action-fields");
    fieldset.appendChild(el("legend", null, t("action.details")));
    const fields = [];
    Object.keys(properties).forEach((name, i) => {
      const spec = isObject(properties[name]) ? properties[name] : {};
      const id = prefix + "-arg-" + i;
      const row = el("div", "action-field");
      const label = el("label", null, name);
      label.htmlFor = id;
      const field = actionField(name, spec, given[name], id);
      const control = field.control;
      if (required.has(name)) {
        label.appendChild(el("span", "action-required", t("action.required")));
        control.required = true;
      }
      const described = [];
      if (missing.has(name)) {
        row.classList.add("missing");
        control.setAttribute("aria-invalid", "true");
        const note = el("span", "action-missing", t("action.missing"));
        note.id = id + "-missing";
        described.push(note);
      }
      if (spec.description) {
        const hint = el("span", "action-hint", spec.description);
        hint.id = id + "-hint";
        described.push(hint);
      }
      if (described.length) control.setAttribute("aria-describedby", described.map((n) => n.id).join(" "));
      control.addEventListener("input", () => {
        if (control.getAttribute("aria-invalid") === "true" && control.value !== "") {
          control.removeAttribute("aria-invalid");
          row.classList.remove("missing");
        }
      });
      row.append(label, control, ...described);
      fieldset.appendChild(row);
      fields.push(field);
    });
    if (fields.length === 0) fieldset.appendChild(el("p", "action-hint", t("action.no_details")));
    form.appendChild(fieldset);

    const problems = Array.isArray(proposal.problems) ? proposal.problems : [];
    if (problems.length) {
      const list = el("ul", "action-problems");
      for (const p of problems) list.appendChild(el("li", null, p));
      form.appendChild(list);
    }

    const errorLine = el("p", "action-error");
    errorLine.setAttribute("role", "alert");
    errorLine.hidden = true;
    form.appendChild(errorLine);

    const buttons = el("div", "action-buttons");
    const confirmButton = el("button", "action-confirm", t("action.confirm"));
    confirmButton.type = "submit";
    const cancelButton = el("button", "secondary action-cancel", t("action.cancel"));
    cancelButton.type = "button";
    const progress = el("span", "action-progress");
    progress.setAttribute("role", "status");
    progress.setAttribute("aria-live", "polite");
    buttons.append(confirmButton, cancelButton, progress);
    form.appendChild(buttons);
    const ttl = Number(proposal.expires_in_s);
    if (Number.isFinite(ttl) && ttl > 0) {
      const minutes = Math.max(1, Math.round(ttl / 60));
      form.appendChild(el("p", "action-expiry", t("action.expires", { minutes: minutes })));
    }
    actionBox.appendChild(form);

    const outcome = el("div", "action-outcome");
    outcome.setAttribute("aria-live", "polite");
    outcome.hidden = true;
    actionBox.appendChild(outcome);
    actionBox.hidden = false;

    let settled = false;

    function showActionError(message) {
      errorLine.textContent = message;
      errorLine.hidden = false;
    }

    function settle(kind, body) {
      settled = true;
      fieldset.disabled = true;
      confirmButton.disabled = true;
      cancelButton.disabled = true;
      actionBox.classList.add("settled");
      answerHeading.textContent = kind === "declined" ? "Action cancelled" : "Action";
      outcome.className = "action-outcome " + kind;
      outcome.replaceChildren();
      const answer = typeof body.answer === "string" ? body.answer : "";
      currentTurn = { question: askedText, answer };
      if (kind === "declined") {
        outcome.appendChild(el("p", "action-answer", answer || t("action.cancelled", { tool: tool })));
      } else {
        const r = isObject(body.result) ? body.result : {};
        outcome.className = "action-outcome " + (r.ok === true ? "result ok" : "result failed");
        const bits = [r.ok === true ? t("action.done") : t("action.failed")];
        if (r.status !== undefined && r.status !== null && r.status !== "") bits.push(t("action.status", { status: r.status }));
        if (typeof r.took_ms === "number") bits.push(Math.round(r.took_ms) + " ms");
        outcome.appendChild(el("p", "action-outcome-title", bits.join(" · ")));
        if (answer) outcome.appendChild(el("p", "action-answer", answer));
        if (r.ok !== true && r.error && !answer.includes(String(r.error))) {
          outcome.appendChild(el("p", "action-result-error", r.error));
        }
        if (r.output !== undefined && r.output !== null) {
          const pre = el("pre", "action-output", JSON.stringify(r.output, null, 2));
          pre.setAttribute("aria-label", "Output of " + tool);
          pre.tabIndex = 0; // scrollable: reachable by keyboard
          outcome.appendChild(pre);
        }
        if (typeof body.conversation_id === "string" && body.conversation_id) {
          conversationId = body.conversation_id;
          conversation.hidden = false;
        }
      }
      outcome.hidden = false;
    }

    async function send(path, payload, progressText, kind) {
      if (busy || settled) return;
      errorLine.hidden = true;
      errorLine.textContent = "";
      setBusy(true);
      confirmButton.disabled = true;
      cancelButton.disabled = true;
      progress.textContent = progressText;
      let usable = true; // can the proposal still be confirmed or cancelled?
      try {
        const response = await fetch(path, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(payload),
        });
        if (card !== actionCard) return;
        if (!response.ok) {
          // The tool's own words about its arguments ("location: required") are the point.
          const problem = await errorFrom(response);
          const message = response.status === 400 && problem.detail ? problem.detail : problem.text;
          if (card !== actionCard) return;
          // 404: used, cancelled or expired; 403: proposed to another client. Ask again.
          usable = response.status !== 404 && response.status !== 403;
          showActionError(message + (usable ? "" : " " + t("action.ask_again")));
          return;
        }
        const body = await response.json();
        if (card !== actionCard) return;
        settle(kind, isObject(body) ? body : {});
      } catch (err) {
        if (card !== actionCard) return;
        const detail = err && err.message ? err.message : String(err);
        showActionError(err instanceof TypeError ? t("error.unreachable") : t("error.other") + " " + detail);
      } finally {
        if (card === actionCard) {
          progress.textContent = "";
          if (!settled && usable) {
            confirmButton.disabled = false;
            cancelButton.disabled = false;
          }
        }
        setBusy(false);
      }
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (busy || settled) return;
      let args;
      try {
        args = actionArguments(fields);
      } catch (err) {
        showActionError(err.message);
        return;
      }
      send("/api/actions/confirm", { proposal_id: proposal.id, arguments: args }, t("action.running", { tool: tool }), "result");
    });
    cancelButton.addEventListener("click", () => {
      send("/api/actions/decline", { proposal_id: proposal.id }, t("action.cancelling"), "declined");
    });

    const first = fields.find((f) => missing.has(f.name));
    if (first) first.control.focus();
  }

  newConversation.addEventListener("click", startNewConversation);

  trustHelp.addEventListener("click", () => {
    const open = trustExplain.hidden;
    trustExplain.hidden = !open;
    trustHelp.setAttribute("aria-expanded", open ? "true" : "false");
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });

  question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask();
    }
  });

  // ---- feedback: thumbs up or down, once per answer ----

  const feedbackReason = $("feedback-reason");
  const feedbackComment = $("feedback-comment");

  function setFeedback(id) {
    answerId = id;
    feedbackStatus.textContent = "";
    for (const b of voteButtons) {
      b.setAttribute("aria-pressed", "false");
      b.disabled = false;
    }
    feedbackReason.hidden = true;
    feedbackComment.value = "";
    feedbackBox.hidden = !id;
  }

  async function sendFeedback(rating, comment) {
    const id = answerId;
    const response = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ id, rating, comment: comment || "" }),
    });
    if (!response.ok) throw new Error((await errorFrom(response)).text);
    return id === answerId;
  }

  // A vote is a toggle: pressed again, it is taken back; "not helpful" asks what was wrong.
  async function vote(button) {
    if (!answerId) return;
    const pressed = button.getAttribute("aria-pressed") === "true";
    const rating = pressed ? "none" : button.dataset.rating;
    for (const b of voteButtons) b.disabled = true;
    feedbackStatus.textContent = t("feedback.sending");
    try {
      if (!(await sendFeedback(rating))) return; // another answer since
      for (const b of voteButtons) b.setAttribute("aria-pressed", String(b === button && !pressed));
      feedbackStatus.textContent = pressed ? t("feedback.withdrawn") : t("feedback.thanks");
      feedbackReason.hidden = rating !== "down";
      if (rating === "down") feedbackComment.focus();
    } catch (err) {
      feedbackStatus.textContent = t("feedback.not_sent", { reason: err && err.message ? err.message : String(err) });
    } finally {
      for (const b of voteButtons) b.disabled = false;
    }
  }

  feedbackReason.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      if (!(await sendFeedback("down", feedbackComment.value.trim()))) return;
      feedbackReason.hidden = true;
      feedbackStatus.textContent = t("feedback.thanks_reason");
    } catch (err) {
      feedbackStatus.textContent = t("feedback.not_sent", { reason: err && err.message ? err.message : String(err) });
    }
  });

  for (const b of voteButtons) b.addEventListener("click", () => vote(b));

  // ---- the side panel: a cited passage with its neighbours, and the original file ----

  const narrow = window.matchMedia("(max-width: 899px)");
  let panelReturnFocus = null;
  let panelRequest = 0;

  // The original, at the cited page where the browser's PDF viewer can go there.
  function fileUrl(source, page) {
    const url = "/files/" + String(source).split("/").map(encodeURIComponent).join("/");
    const onPage = Number.isInteger(page) && /\.pdf$/i.test(String(source));
    return onPage ? url + "#page=" + page : url;
  }

  // `shown`: the passage the panel was opened on (highlighted), `cited`: the answer cites it.
  function passageNode(p, shown, cited) {
    const box = el("section", "passage" + (shown ? " cited" : ""));
    const bits = [];
    if (p.page !== null && p.page !== undefined) bits.push(t("sources.page", { page: p.page }));
    if (p.heading) bits.push(String(p.heading));
    if (shown) bits.push(cited ? t("panel.cited") : t("panel.found"));
    else if (p.chunk !== undefined) bits.push(t("panel.passage_n", { n: Number(p.chunk) + 1 }));
    if (p.ocr) bits.push(t("panel.scan"));
    box.appendChild(el("p", "passage-meta", bits.join(" · ")));
    box.appendChild(el(shown ? "mark" : "p", "passage-text", p.text));
    if (shown) box.setAttribute("aria-current", "true");
    return box;
  }

  function syncPanelMode() {
    const modal = !panel.hidden && narrow.matches;
    if (modal) panel.setAttribute("aria-modal", "true");
    else panel.removeAttribute("aria-modal");
    panelBackdrop.hidden = !modal;
    document.body.classList.toggle("panel-open", !panel.hidden);
    document.body.classList.toggle("drawer-open", modal);
  }

  async function openPassage(n, opener) {
    const c = citationsByNumber.get(String(n));
    if (!c) return;
    const request = ++panelRequest;
    if (panel.hidden) panelReturnFocus = opener || document.activeElement;
    else if (opener) panelReturnFocus = opener;
    panelTitle.textContent = t("panel.title_n", { n: c.number });
    const whereBits = [String(c.source)];
    if (c.page !== null && c.page !== undefined) whereBits.push(t("sources.page", { page: c.page }));
    if (c.heading) whereBits.push(String(c.heading));
    whereBits.push(relevanceText(c));
    panelWhere.textContent = whereBits.join(" · ");
    panelOpen.href = fileUrl(c.source, c.page);
    panelOpen.setAttribute("aria-label", t("panel.open_label", { source: String(c.source) }));
    panelPassages.replaceChildren();
    panelStatus.textContent = t("panel.loading");
    panel.hidden = false;
    syncPanelMode();
    panelClose.focus();

    const fallback = () => {
      if (c.snippet) panelPassages.appendChild(passageNode({ page: c.page, heading: c.heading, text: c.snippet, ocr: c.ocr }, true, c.cited === true));
    };
    const chunk = Number(c.chunk);
    if (c.chunk === undefined || c.chunk === null || !Number.isInteger(chunk)) {
      panelStatus.textContent = t("panel.snippet_only");
      fallback();
      return;
    }
    try {
      const query = "source=" + encodeURIComponent(String(c.source)) + "&chunk=" + chunk + "&around=1";
      const response = await fetch("/api/passage?" + query);
      if (request !== panelRequest) return;
      if (!response.ok) {
        panelStatus.textContent = (await errorFrom(response)).text;
        fallback();
        return;
      }
      const body = await response.json();
      if (request !== panelRequest) return;
      if (typeof body.file_url === "string" && body.file_url.startsWith("/files/")) {
        panelOpen.href = fileUrl(body.source || c.source, c.page);
      }
      const passages = Array.isArray(body.passages) ? body.passages : [];
      const context = c.cited === true ? t("panel.cited_context") : t("panel.found_context");
      panelStatus.textContent = passages.length > 1 ? context : "";
      let cited = null;
      for (const p of passages) {
        const node = passageNode(p, p.cited === true, c.cited === true);
        if (p.cited === true) cited = node;
        panelPassages.appendChild(node);
      }
      if (cited) cited.scrollIntoView({ block: "nearest" });
    } catch (err) {
      if (request !== panelRequest) return;
      panelStatus.textContent = t("panel.load_failed");
      fallback();
    }
  }

  function closePanel(restoreFocus) {
    if (panel.hidden) return;
    panelRequest++;
    panel.hidden = true;
    syncPanelMode();
    const back = panelReturnFocus;
    panelReturnFocus = null;
    if (restoreFocus !== false) {
      if (back && back.isConnected && typeof back.focus === "function") back.focus();
      else question.focus();
    }
  }

  panelClose.addEventListener("click", () => closePanel());
  panelBackdrop.addEventListener("click", () => closePanel());
  if (narrow.addEventListener) narrow.addEventListener("change", syncPanelMode);

  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !panel.hidden) {
      event.preventDefault();
      closePanel();
    }
  });

  // As a modal drawer, Tab stays inside the panel.
  panel.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || panel.getAttribute("aria-modal") !== "true") return;
    const focusable = Array.from(panel.querySelectorAll("a[href], button:not([disabled])"));
    if (focusable.length === 0) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // ---- knowledge base: documents, totals, indexing progress ----

  const STATUS_LABEL = {
    indexed: t("kb.status_indexed"),
    pending: t("kb.status_pending"),
    failed: t("kb.status_failed"),
    unsupported: t("kb.status_unsupported"),
    too_large: t("kb.status_too_large"),
  };
  const docList = $("documents");
  const docTotals = $("documents-status");
  const docSummary = $("documents-summary");
  const indexingBox = $("indexing");
  const indexingLabel = $("indexing-label");
  const indexingBar = $("indexing-bar");
  let lastDocuments = "";
  let docTimer = null;
  let indexingNow = false;

  // "5 min ago", in the page's language; a date after a month.
  function ago(epochSeconds) {
    const when = Number(epochSeconds);
    if (!Number.isFinite(when) || when <= 0) return "";
    const s = Math.max(0, Date.now() / 1000 - when);
    if (s < 45) return t("time.just_now");
    if (s < 3600) return tn("time.minutes", Math.max(1, Math.round(s / 60)));
    if (s < 86400) return tn("time.hours", Math.max(1, Math.round(s / 3600)));
    const days = Math.round(s / 86400);
    if (days < 30) return tn("time.days", days);
    return new Date(when * 1000).toLocaleDateString(LANG);
  }

  // "manual.pdf: 120 of 800 passages": the file being embedded, which may take minutes; or
  // "scan.pdf: reading scanned pages, 3 of 40 done" while OCR reads it, seconds a page.
  function currentFile(indexing) {
    const c = indexing && indexing.current;
    if (!c || !(Number(c.total) > 0)) return "";
    const name = String(c.path || "").split("/").pop();
    const done = Math.min(Number(c.done) || 0, Number(c.total));
    const values = { name: name, done: NUMBERS.format(done), total: NUMBERS.format(Number(c.total)) };
    return c.stage === "ocr" ? t("kb.ocr", values) : t("kb.embedding", values);
  }

  function renderProgress(indexing) {
    const done = Number(indexing && indexing.done) || 0;
    const total = Number(indexing && indexing.total) || 0;
    const current = currentFile(indexing);
    indexingNow = total > 0 || !!current || (Number(indexing && indexing.waiting) || 0) > 0;
    if (total > 0 || current) {
      const files = total > 0 ? t("kb.indexing_n", { done: NUMBERS.format(Math.min(done, total)), total: NUMBERS.format(total) }) : t("kb.indexing");
      indexingLabel.textContent = files + (current ? " · " + current : "");
      indexingBar.max = Math.max(total, 1);
      indexingBar.value = Math.min(done, total);
      indexingBox.hidden = false;
    } else {
      indexingBox.hidden = true;
    }
  }

  // Why a file is not (wholly) searchable: in the reader's words by its code, the appliance's
  // own sentence (limits, library messages) one click away for the administrator.
  function reasonNode(d) {
    const key = "reason." + String(d.code || "");
    if (!hasWords(key)) return el("span", "doc-error", d.error);
    const box = el("div", "doc-error");
    box.appendChild(el("span", null, t(key)));
    const more = el("details", "error-detail");
    more.appendChild(el("summary", null, t("error.details")));
    more.appendChild(el("p", null, d.error));
    box.appendChild(more);
    return box;
  }

  function documentItem(d) {
    const status = String(d.status || "");
    const item = el("li", "doc doc-" + status.replace(/[^a-z_]/g, ""));
    const head = el("div", "doc-head");
    head.appendChild(el("span", "doc-path", d.path));
    head.appendChild(el("span", "doc-status " + status.replace(/[^a-z_]/g, ""), STATUS_LABEL[status] || status.replace(/_/g, " ")));
    item.appendChild(head);
    const facts = [];
    if (status === "indexed") facts.push(tn("kb.passages", Number(d.chunks) || 0));
    const when = ago(d.indexed_at);
    if (when && status === "indexed") facts.push(t("kb.indexed_when", { when: when }));
    if (facts.length) item.appendChild(el("span", "doc-facts", facts.join(" · ")));
    if (d.error) item.appendChild(reasonNode(d));
    return item;
  }

  async function loadDocuments() {
    try {
      const response = await fetch("/api/documents");
      if (!response.ok) {
        docTotals.textContent = (await errorFrom(response)).text;
        return;
      }
      const body = await response.json();
      const docs = Array.isArray(body.documents) ? body.documents : [];
      renderProgress(body.indexing);
      const totals = body.totals && typeof body.totals === "object" ? body.totals : {};
      const parts = [];
      for (const key of ["indexed", "pending", "failed", "unsupported", "too_large"]) {
        const n = Number(totals[key]) || 0;
        if (n > 0 || key === "indexed") parts.push(NUMBERS.format(n) + " " + STATUS_LABEL[key]);
      }
      parts.push(tn("kb.passages", Number(body.chunks) || 0));
      docTotals.textContent = docs.length === 0 ? t("kb.empty") : parts.join(" · ");
      if (indexingNow && body.indexing && body.indexing.total > 0) {
        docSummary.textContent = t("kb.indexing_n", { done: Math.min(body.indexing.done, body.indexing.total), total: body.indexing.total });
      } else {
        renderDocumentSummary(body.summary, true);
      }
      // Rebuilt only when something changed (and once a minute for the "… ago" times).
      const key = JSON.stringify(docs) + Math.floor(Date.now() / 60000);
      if (key !== lastDocuments) {
        lastDocuments = key;
        docList.replaceChildren(...docs.map(documentItem));
      }
    } catch (err) {
      docTotals.textContent = t("kb.load_failed");
    } finally {
      scheduleDocuments();
    }
  }

  // The closed panel says how many files can be searched and how many need someone to look
  // at them; with nothing searchable and nothing coming, a card says how to begin.
  const onboarding = $("onboarding");

  function renderDocumentSummary(documents, ready) {
    if (!documents || typeof documents !== "object") return;
    const searchable = Number(documents.searchable) || 0;
    const attention = Number(documents.attention) || 0;
    const waiting = Number(documents.waiting) || 0;
    const parts = [t("kb.searchable", { n: NUMBERS.format(searchable) })];
    if (waiting > 0) parts.push(t("kb.waiting", { n: NUMBERS.format(waiting) }));
    if (attention > 0) parts.push(tn("kb.attention", attention));
    if (!indexingNow) docSummary.textContent = parts.join(" · ");
    docSummary.classList.toggle("attention", attention > 0);
    onboarding.hidden = !(ready && searchable === 0 && waiting === 0);
  }

  for (const example of document.querySelectorAll("#onboarding button.example")) {
    example.addEventListener("click", () => {
      question.value = example.textContent;
      question.focus();
    });
  }

  // Every ~3 s while the panel is open or the appliance is indexing.
  function scheduleDocuments() {
    clearTimeout(docTimer);
    docTimer = null;
    if (documentsPanel.open || indexingNow) docTimer = setTimeout(loadDocuments, 3000);
  }

  documentsPanel.addEventListener("toggle", () => {
    if (documentsPanel.open) {
      if (!docList.childElementCount) docTotals.textContent = t("kb.loading");
      loadDocuments();
    } else {
      scheduleDocuments();
    }
  });

  // ---- upload: drop files (or choose them) into kb/uploads/ ----

  const dropZone = $("upload-zone");
  const uploadInput = $("upload-input");
  const uploadStatus = $("upload-status");
  const uploadProgress = $("upload-progress");
  let uploading = false;
  let maxUploadMb = null; // server.max_upload_mb, from the status line

  const megabytes = (bytes) => NUMBERS.format(Math.round((10 * bytes) / 2 ** 20) / 10);

  // Why an upload was refused, in the reader's words, naming the file it is about.
  function uploadRefusal(body, status) {
    const code = String(body.code || (status === 413 ? "upload_too_large" : ""));
    const values = { name: String(body.name || ""), limit: NUMBERS.format(Number(body.limit_mb || maxUploadMb || 0)) };
    return hasWords("error." + code) ? t("error." + code, values) : t("upload.failed");
  }

  function upload(files) {
    if (uploading || !files || files.length === 0) return;
    // A file over the limit is refused here, before minutes of sending it.
    const big = maxUploadMb === null ? undefined : Array.from(files).find((f) => f.size > maxUploadMb * 2 ** 20);
    if (big) {
      uploadInput.value = "";
      uploadStatus.className = "upload-status failed";
      uploadStatus.textContent = t("upload.too_large", { name: big.name, size: megabytes(big.size), limit: NUMBERS.format(maxUploadMb) });
      uploadStatus.title = "server.max_upload_mb: " + maxUploadMb;
      return;
    }
    uploading = true;
    const form = new FormData();
    for (const f of files) form.append("file", f, f.name);
    const names = Array.from(files, (f) => f.name).join(", ");
    uploadStatus.className = "upload-status";
    uploadStatus.textContent = t("upload.uploading", { names: names });
    uploadProgress.value = 0;
    uploadProgress.hidden = false;
    dropZone.classList.add("busy");
    // XMLHttpRequest, not fetch: it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) {
        uploadProgress.value = event.loaded / event.total;
        uploadStatus.textContent = t("upload.uploading_percent", { names: names, percent: Math.round((100 * event.loaded) / event.total) });
      }
    });
    const finish = (ok, message, detail) => {
      uploading = false;
      uploadInput.value = "";
      uploadProgress.hidden = true;
      dropZone.classList.remove("busy");
      uploadStatus.className = "upload-status " + (ok ? "ok" : "failed");
      uploadStatus.textContent = message;
      uploadStatus.title = detail || ""; // the server's words, for the administrator
      if (ok) loadDocuments();
    };
    xhr.addEventListener("load", () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch (_) {
        /* not JSON */
      }
      if (xhr.status === 201 && Array.isArray(body.saved)) {
        finish(true, t("upload.added", { names: body.saved.join(", ") }));
      } else {
        finish(false, uploadRefusal(body, xhr.status), String(body.error || ""));
      }
    });
    xhr.addEventListener("error", () => finish(false, t("error.unreachable")));
    xhr.send(form);
  }

  uploadInput.addEventListener("change", () => upload(uploadInput.files));
  dropZone.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropZone.classList.add("over");
  });
  dropZone.addEventListener("dragleave", () => dropZone.classList.remove("over"));
  dropZone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropZone.classList.remove("over");
    if (event.dataTransfer) upload(event.dataTransfer.files);
  });

  // ---- status line: ready, model and device, indexing, answers in progress ----

  function deviceName(device) {
    const d = String(device || "");
    if (d === "cpu" || d === "gpu") return d.toUpperCase();
    return d;
  }

  function setServerStatus(state, text, detail) {
    serverStatus.className = "server-status " + state;
    serverStatus.title = detail || "";
    if (serverStatusText.textContent !== text) serverStatusText.textContent = text;
  }

  let wasIndexing = false;

  let statusTimer = null;

  // Look now, not at the next poll: after a broken answer the header must not say "Ready".
  function pollStatusNow() {
    clearTimeout(statusTimer);
    pollStatus();
  }

  async function pollStatus() {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      if (response.status === 401) {
        window.location.assign("/login"); // an access token is set and this browser has none
        return;
      }
      if (response.status === 503) {
        let reason = "";
        try {
          reason = String((await response.json()).error || "");
        } catch (_) {
          /* not JSON */
        }
        setServerStatus("starting", t("status.starting"), reason);
      } else if (!response.ok) {
        setServerStatus("problem", t("status.unavailable"), "HTTP " + response.status);
      } else {
        const s = await response.json();
        const parts = [];
        const ix = s.indexing || {};
        const total = Number(ix.total) || 0;
        const running = Number(ix.waiting) || 0;
        if (total > 0) parts.push(t("kb.indexing_n", { done: NUMBERS.format(Math.min(Number(ix.done) || 0, total)), total: NUMBERS.format(total) }));
        if (currentFile(ix)) parts.push(currentFile(ix));
        else if (!s.ready) parts.push(t("status.starting"));
        else parts.push(t("status.ready"));
        const answers = s.answers || {};
        if (Number(answers.running) > 0) parts.push(tn("status.answers", Number(answers.running)));
        if (Number(answers.waiting) > 0) parts.push(t("status.waiting", { n: NUMBERS.format(Number(answers.waiting)) }));
        if (s.ingestion && s.ingestion !== "running") parts.push(t("status.paused"));
        // The model and where it runs, and why ingestion paused: for the administrator, on hover.
        const details = [];
        const model = String(s.model || "");
        if (model) details.push(t("status.model", { model: model, device: deviceName(s.device) }));
        if (s.ingestion && s.ingestion !== "running") details.push(String(s.ingestion));
        setServerStatus(total > 0 ? "indexing" : s.ready ? "ready" : "starting", parts.join(" · "), details.join("\n"));
        $("sign-out").hidden = !s.signed_in;
        const user = s.user || {};
        $("signed-in-as").textContent = !s.signed_in ? "" : user.name
          ? t("page.signed_in_as", { name: String(user.name) })
          : t("page.signed_in_admin");
        $("upload-zone").hidden = s.uploads !== true;
        if (typeof s.max_upload_mb === "number") maxUploadMb = s.max_upload_mb;
        if (s.ready && errorBox.dataset.kind === "not-ready") clearError(); // it is ready now
        renderDocumentSummary(s.documents, s.ready);
        const indexing = total > 0 || running > 0;
        if (indexing && !docTimer) {
          indexingNow = true;
          loadDocuments();
        } else if (!indexing && wasIndexing && documentsPanel.open) {
          loadDocuments(); // the last files just settled
        }
        wasIndexing = indexing;
      }
    } catch (_) {
      setServerStatus("problem", t("status.unreachable"));
    } finally {
      clearTimeout(statusTimer);
      statusTimer = setTimeout(pollStatus, 5000);
    }
  }

  pollStatus();
})();
