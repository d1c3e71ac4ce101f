// Knowledge appliance page: ask a question (or a follow-up), stream the answer, show which
// sources it cites and how far to trust it. Plain JavaScript, nothing loaded from elsewhere.
// Server text only ever goes in via textContent.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const question = $("question");
  const button = $("ask-button");
  const statusLine = $("status");
  const errorBox = $("error");
  const conversation = $("conversation");
  const historyList = $("history");
  const newConversation = $("new-conversation");
  const result = $("result");
  const asked = $("asked");
  const searchedFor = $("searched-for");
  const answerBox = $("answer");
  const trustBox = $("trust");
  const trustMeter = $("trust-meter");
  const trustFill = $("trust-fill");
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
  const alsoHeading = alsoRetrieved.querySelector("h3");
  const uncitedList = $("uncited");
  const documentsPanel = $("documents-panel");

  const NOT_FOUND = "I could not find anything about that in the indexed documents.";

  let busy = false;
  let answerText = "";
  // The conversation: its id (from the last "done"), and the turn shown in full right now,
  // which moves up into the history when the next question is asked.
  let conversationId = null;
  let currentTurn = null;

  function setStatus(text) {
    statusLine.textContent = text || "";
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  function setBusy(value) {
    busy = value;
    button.disabled = value;
    newConversation.disabled = value;
    button.textContent = value ? "Answering…" : "Ask";
    form.setAttribute("aria-busy", value ? "true" : "false");
  }

  function busyMessage(seconds) {
    const n = Number(seconds);
    return Number.isFinite(n) && n > 0
      ? "The assistant is busy, try again in " + Math.ceil(n) + " s."
      : "The assistant is busy, try again shortly.";
  }

  function queueMessage(position) {
    const ahead = Math.max(0, Math.floor(Number(position) || 0) - 1);
    return ahead === 0
      ? "Waiting in line: you are next…"
      : "Waiting in line: " + ahead + " ahead of you…";
  }

  function percent(value) {
    const n = Number(value);
    return Number.isFinite(n) ? Math.round(Math.min(1, Math.max(0, n)) * 100) : 0;
  }

  function listNumbers(numbers) {
    const marks = numbers.map((n) => "[" + n + "]");
    if (marks.length <= 1) return marks.join("");
    return marks.slice(0, -1).join(", ") + " and " + marks[marks.length - 1];
  }

  // ---- answer text, with [n] turned into links to the matching source ----

  function renderAnswer(text) {
    answerBox.replaceChildren();
    const pattern = /\[(\d+)\]/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(text)) !== null) {
      if (match.index > last) {
        answerBox.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      const n = match[1];
      if (document.getElementById("citation-" + n)) {
        const link = document.createElement("a");
        link.className = "cite";
        link.href = "#citation-" + n;
        link.textContent = "[" + n + "]";
        link.addEventListener("click", (event) => {
          event.preventDefault();
          flashCitation(n);
        });
        answerBox.appendChild(link);
      } else if (!answerBox.classList.contains("streaming")) {
        const bad = document.createElement("span");
        bad.className = "cite-invalid";
        bad.title = "Not one of the sources given to the model";
        bad.textContent = match[0];
        answerBox.appendChild(bad);
      } else {
        answerBox.appendChild(document.createTextNode(match[0]));
      }
      last = pattern.lastIndex;
    }
    if (last < text.length) {
      answerBox.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function flashCitation(n) {
    const item = document.getElementById("citation-" + n);
    if (!item) return;
    item.scrollIntoView({ behavior: "smooth", block: "nearest" });
    item.classList.add("flash");
    setTimeout(() => item.classList.remove("flash"), 1500);
  }

  // ---- citations ----

  function formatScore(score) {
    return typeof score === "number" && isFinite(score) ? score.toFixed(3) : String(score);
  }

  function citationItem(c, state) {
    const item = document.createElement("li");
    item.id = "citation-" + c.number;
    item.className = state;
    if (typeof c.number === "number") item.value = c.number;

    const head = document.createElement("div");
    head.className = "cite-head";
    const source = document.createElement("span");
    source.className = "cite-source";
    let where = String(c.source);
    if (c.page !== null && c.page !== undefined) where += ", page " + c.page;
    source.textContent = where;
    head.appendChild(source);
    if (state === "cited") {
      const badge = document.createElement("span");
      badge.className = "badge cited-badge";
      badge.textContent = "cited";
      head.appendChild(badge);
    }
    item.appendChild(head);

    const meta = document.createElement("div");
    meta.className = "cite-meta";
    const parts = [];
    if (c.heading) parts.push(String(c.heading));
    parts.push("score " + formatScore(c.score));
    meta.textContent = parts.join(" · ");
    item.appendChild(meta);

    if (c.snippet) {
      const snippet = document.createElement("p");
      snippet.className = "cite-snippet";
      snippet.textContent = String(c.snippet);
      item.appendChild(snippet);
    }
    return item;
  }

  // While the answer is written the passages are only "given to the model"; once it is done
  // they split into the ones the answer cites and the ones it does not (never shown as used).
  function renderCitations(citations, final) {
    citationList.replaceChildren();
    uncitedList.replaceChildren();
    alsoRetrieved.hidden = true;
    if (!Array.isArray(citations) || citations.length === 0) {
      sources.hidden = true;
      return;
    }
    if (!final) {
      sourcesHeading.textContent = "Passages given to the model";
      sourcesHeading.hidden = false;
      citationList.hidden = false;
      for (const c of citations) citationList.appendChild(citationItem(c, "pending"));
      sources.hidden = false;
      return;
    }
    const cited = citations.filter((c) => c.cited === true);
    const uncited = citations.filter((c) => c.cited !== true);
    sourcesHeading.textContent = "Cited sources";
    sourcesHeading.hidden = cited.length === 0;
    citationList.hidden = cited.length === 0;
    for (const c of cited) citationList.appendChild(citationItem(c, "cited"));
    for (const c of uncited) uncitedList.appendChild(citationItem(c, "uncited"));
    alsoHeading.firstChild.textContent = cited.length ? "Also retrieved " : "Retrieved ";
    alsoRetrieved.hidden = uncited.length === 0;
    sources.hidden = false;
  }

  // ---- trust, warnings, timings ----

  function renderTrust(trust, citations, answer) {
    trustBox.hidden = true;
    trustBox.className = "trust";
    trustExplain.hidden = true;
    trustHelp.setAttribute("aria-expanded", "false");
    const warningTexts = [];
    const given = Array.isArray(citations) && citations.length > 0;
    if (trust && typeof trust === "object" && given) {
      const pct = percent(trust.score);
      trustBox.classList.add(pct >= 70 ? "high" : pct >= 40 ? "mid" : "low");
      trustFill.style.width = pct + "%";
      trustMeter.setAttribute("aria-valuenow", String(pct));
      trustValue.textContent = pct + "%";
      const detail =
        "support " + percent(trust.support) + "% · valid citations " + percent(trust.citations) +
        "% · relevance " + percent(trust.relevance) + "%";
      trustDetail.textContent = detail;
      trustBox.title =
        "Trust " + pct + "%: " + detail + ". Support: the share of sentences backed by the " +
        "passages they cite. Valid citations: the share of [n] that name a real source. " +
        "Relevance: how close the best passage is to the question.";
      trustBox.hidden = false;

      const invalid = Array.isArray(trust.invalid_citations) ? trust.invalid_citations : [];
      if (invalid.length === 1) {
        warningTexts.push("The answer cites " + listNumbers(invalid) + ", which is not one of the sources.");
      } else if (invalid.length > 1) {
        warningTexts.push("The answer cites " + listNumbers(invalid) + ", which are not among the sources.");
      }
      const cited = Array.isArray(trust.cited) ? trust.cited : [];
      if (cited.length === 0 && answer !== NOT_FOUND) {
        warningTexts.push("The answer cites none of the sources: check it against the passages below.");
      }
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
      parts.push((timings.total_ms / 1000).toFixed(1) + " s");
    }
    if (timings && typeof timings.queue_ms === "number" && timings.queue_ms >= 500) {
      parts.push("waited " + (timings.queue_ms / 1000).toFixed(1) + " s in line");
    }
    timing.textContent = parts.join(" · ");
  }

  function renderSearchedFor(typed, standalone) {
    const norm = (s) => String(s || "").trim().replace(/\s+/g, " ").toLowerCase();
    if (typeof standalone === "string" && standalone.trim() && norm(standalone) !== norm(typed)) {
      searchedFor.textContent = "Searched for: " + standalone.trim();
      searchedFor.hidden = false;
    } else {
      searchedFor.textContent = "";
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
    const a = document.createElement("p");
    a.className = "turn-answer";
    a.textContent = turn.answer;
    item.append(q, a);
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

  async function errorFrom(response) {
    let message = "";
    try {
      const body = await response.json();
      if (body && body.error) message = String(body.error);
    } catch (_) {
      /* not JSON */
    }
    if (response.status === 503) {
      const retry = response.headers.get("Retry-After");
      if (!message || message.startsWith("busy")) return busyMessage(retry);
      return "The appliance is not ready: " + message + (retry ? " (try again in " + retry + " s)" : "");
    }
    return "Error " + response.status + (message ? ": " + message : (response.statusText ? " " + response.statusText : ""));
  }

  // ---- asking ----

  async function ask() {
    if (busy) return;
    clearError();
    const text = question.value.trim();
    if (!text) {
      showError("Type a question first.");
      question.focus();
      return;
    }

    // The answer shown until now is part of the conversation: it moves up into the history.
    if (currentTurn && conversationId) addToHistory(currentTurn);
    currentTurn = null;

    setBusy(true);
    setStatus("Searching your documents…");
    clearResult();
    asked.textContent = text;

    const body = { question: text };
    if (conversationId) body.conversation_id = conversationId;

    let finished = false;
    try {
      const response = await fetch("/api/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(body),
      });
      if (!response.ok) {
        showError(await errorFrom(response));
        return;
      }
      if (!response.body) {
        showError("This browser cannot read a streamed answer.");
        return;
      }
      await readEvents(response, (event) => {
        switch (event.kind) {
          case "queued":
            setStatus(queueMessage(event.data && event.data.position));
            break;
          case "citations":
            result.hidden = false;
            renderCitations(event.data, false);
            setStatus("Writing the answer…");
            answerBox.classList.add("streaming");
            break;
          case "token":
            result.hidden = false;
            answerText += String(event.data);
            renderAnswer(answerText);
            break;
          case "done": {
            const data = event.data || {};
            result.hidden = false;
            answerBox.classList.remove("streaming");
            renderCitations(data.citations || [], true);
            answerText = typeof data.answer === "string" ? data.answer : answerText;
            renderAnswer(answerText);
            renderTrust(data.trust, data.citations, answerText);
            renderTiming(data.timings);
            renderSearchedFor(text, data.standalone_question);
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
            showError(
              data.retry_after !== undefined && data.retry_after !== null
                ? busyMessage(data.retry_after)
                : "Error: " + (data.error || "the answer failed"),
            );
            finished = true;
            return false;
          }
          default:
            break;
        }
        return true;
      });
      if (!finished) showError("The answer stopped before it was finished (the connection closed).");
    } catch (err) {
      const detail = err && err.message ? err.message : String(err);
      showError(err instanceof TypeError ? "Could not reach the appliance: " + detail : "Error: " + detail);
    } finally {
      answerBox.classList.remove("streaming");
      if (answerText) renderAnswer(answerText);
      setStatus("");
      setBusy(false);
    }
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

  // ---- documents panel ----

  async function loadDocuments() {
    const list = $("documents");
    const status = $("documents-status");
    status.textContent = "Loading…";
    list.replaceChildren();
    try {
      const response = await fetch("/api/documents");
      if (!response.ok) {
        status.textContent = await errorFrom(response);
        return;
      }
      const body = await response.json();
      const docs = Array.isArray(body.documents) ? body.documents : [];
      status.textContent = docs.length === 0 ? "No documents yet: put files in the knowledge folder." :
        docs.length + (docs.length === 1 ? " document" : " documents");
      for (const d of docs) {
        const item = document.createElement("li");
        const path = document.createElement("span");
        path.textContent = String(d.path);
        item.appendChild(path);
        const badge = document.createElement("span");
        badge.className = "doc-status " + String(d.status).replace(/[^a-z_]/g, "");
        badge.textContent = String(d.status).replace(/_/g, " ");
        item.appendChild(badge);
        if (d.error) {
          const error = document.createElement("span");
          error.className = "doc-error";
          error.textContent = String(d.error);
          item.appendChild(error);
        }
        list.appendChild(item);
      }
    } catch (err) {
      status.textContent = "Could not load the documents: " + (err && err.message ? err.message : String(err));
    }
  }

  documentsPanel.addEventListener("toggle", () => {
    if (documentsPanel.open) loadDocuments();
  });
})();
