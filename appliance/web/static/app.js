// Knowledge appliance page: ask a question, stream the answer, show the sources.
// Plain JavaScript, nothing loaded from elsewhere. Server text only ever goes in via textContent.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const form = $("ask-form");
  const question = $("question");
  const button = $("ask-button");
  const statusLine = $("status");
  const errorBox = $("error");
  const result = $("result");
  const answerBox = $("answer");
  const trustLine = $("trust");
  const sources = $("sources");
  const citationList = $("citations");
  const documentsPanel = $("documents-panel");

  let busy = false;
  let answerText = "";

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
    button.textContent = value ? "Answering…" : "Ask";
    form.setAttribute("aria-busy", value ? "true" : "false");
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

  function renderCitations(citations) {
    citationList.replaceChildren();
    if (!Array.isArray(citations) || citations.length === 0) {
      sources.hidden = true;
      return;
    }
    for (const c of citations) {
      const item = document.createElement("li");
      item.id = "citation-" + c.number;
      if (typeof c.number === "number") item.value = c.number;

      const source = document.createElement("span");
      source.className = "cite-source";
      let where = String(c.source);
      if (c.page !== null && c.page !== undefined) where += ", page " + c.page;
      source.textContent = where;
      item.appendChild(source);

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
      citationList.appendChild(item);
    }
    sources.hidden = false;
  }

  function renderTrust(trust, timings) {
    const parts = [];
    if (trust && typeof trust === "object") {
      if (trust.retrieved) {
        parts.push(trust.grounded ? "Answer cites its sources" : "Answer cites no source: check it against the sources below");
      }
    }
    if (timings && typeof timings.total_ms === "number") {
      parts.push((timings.total_ms / 1000).toFixed(1) + " s");
    }
    trustLine.textContent = parts.join(" · ");
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

    setBusy(true);
    setStatus("Searching your documents…");
    answerText = "";
    renderAnswer("");
    renderCitations([]);
    trustLine.textContent = "";
    result.hidden = true;

    let finished = false;
    try {
      const response = await fetch("/api/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify({ question: text }),
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
          case "citations":
            result.hidden = false;
            renderCitations(event.data);
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
            renderCitations(data.citations || []);
            answerText = typeof data.answer === "string" ? data.answer : answerText;
            renderAnswer(answerText);
            renderTrust(data.trust, data.timings);
            finished = true;
            return false;
          }
          case "error":
            showError("Error: " + ((event.data && event.data.error) || "the answer failed"));
            finished = true;
            return false;
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
      setStatus("");
      setBusy(false);
    }
  }

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
