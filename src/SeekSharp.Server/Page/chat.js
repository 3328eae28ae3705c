// SeekSharp's chat page: talks to this server's /v1/chat/completions with stream: true and reads the SSE stream with
// fetch and a ReadableStream reader. The whole conversation is resent each turn, so the server's prompt cache reuses
// the earlier turns. No framework, no build step.
"use strict";

const $ = (id) => document.getElementById(id);
const ui = {
  messages: $("messages"), status: $("status"), composer: $("composer"), prompt: $("prompt"),
  send: $("send"), stop: $("stop"), newChat: $("new-chat"), model: $("model"),
  system: $("system-prompt"), temperature: $("temperature"), maxTokens: $("max-tokens"), apiKey: $("api-key"),
};

// The conversation so far: {role, content} pairs of user and assistant turns (the system prompt is added when sending).
let history = [];
let controller = null;

// Settings live in localStorage, one key each.
const settings = [
  [ui.system, "seeksharp.systemPrompt"], [ui.temperature, "seeksharp.temperature"],
  [ui.maxTokens, "seeksharp.maxTokens"], [ui.apiKey, "seeksharp.apiKey"],
];
for (const [input, key] of settings) {
  const saved = localStorage.getItem(key);
  if (saved !== null) input.value = saved;
  input.addEventListener("input", () => localStorage.setItem(key, input.value));
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = ui.apiKey.value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

function addMessage(role, text) {
  const div = document.createElement("div");
  div.className = "message " + role;
  const label = document.createElement("p");
  label.className = "role";
  label.textContent = role === "user" ? "You" : role === "assistant" ? "Assistant" : "Error";
  const content = document.createElement("p");
  content.className = "content";
  content.textContent = text;
  div.append(label, content);
  ui.messages.append(div);
  div.scrollIntoView({ block: "end" });
  return { div, content };
}

function setBusy(busy) {
  ui.send.disabled = busy;
  ui.stop.disabled = !busy;
  ui.newChat.disabled = busy;
}

// An API error's message: OpenAI's {"error": {"message"}} shape, or the status line.
async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return `${response.status}: ${body.error.message}`;
  } catch { /* not JSON */ }
  return `${response.status} ${response.statusText}`;
}

// Yields the JSON payloads of a text/event-stream body ("data: ..." lines, events separated by a blank line) up to [DONE].
async function* events(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (!data) continue;
      if (data === "[DONE]") return;
      yield JSON.parse(data);
    }
  }
}

function formatStats(s) {
  const parts = [];
  if (s.ttft !== null) parts.push(`first token ${(s.ttft / 1000).toFixed(2)} s`);
  parts.push(`${s.tokens} token${s.tokens === 1 ? "" : "s"}`);
  if (s.tokensPerSecond !== null) parts.push(`${s.tokensPerSecond.toFixed(1)} tokens/s`);
  if (s.cached) parts.push(`${s.cached} prompt tokens cached`);
  parts.push(s.finish);
  return parts.join(" · ");
}

async function send(text) {
  history.push({ role: "user", content: text });
  addMessage("user", text);
  const reply = addMessage("assistant", "");
  reply.div.classList.add("streaming");
  reply.div.setAttribute("aria-busy", "true");

  const messages = [];
  const system = ui.system.value.trim();
  if (system) messages.push({ role: "system", content: system });
  messages.push(...history);
  const body = { messages, stream: true, stream_options: { include_usage: true } };
  const temperature = parseFloat(ui.temperature.value);
  if (!Number.isNaN(temperature)) body.temperature = temperature;
  const maxTokens = parseInt(ui.maxTokens.value, 10);
  if (!Number.isNaN(maxTokens)) body.max_tokens = maxTokens;

  controller = new AbortController();
  setBusy(true);
  ui.status.textContent = "Generating…";
  const started = performance.now();
  let first = null, chunks = 0, usage = null, finish = "unfinished", replyText = "";
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!response.ok) throw new Error(await errorMessage(response));
    for await (const chunk of events(response.body)) {
      if (chunk.error) throw new Error(chunk.error.message || "The server reported an error.");
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices && chunk.choices[0];
      if (!choice) continue;
      const delta = choice.delta && choice.delta.content;
      if (delta) {
        if (first === null) first = performance.now();
        chunks++;
        replyText += delta;
        reply.content.textContent = replyText;
        reply.div.scrollIntoView({ block: "end" });
      }
      if (choice.finish_reason) finish = choice.finish_reason === "length" ? "stopped at max tokens" : "finished";
    }
  } catch (e) {
    if (e.name === "AbortError") finish = "stopped";
    else {
      finish = "failed";
      const error = addMessage("error", e.message);
      error.div.setAttribute("role", "alert");
    }
  } finally {
    controller = null;
    setBusy(false);
  }
  const ended = performance.now();
  reply.div.classList.remove("streaming");
  reply.div.removeAttribute("aria-busy");
  // Keep what arrived (even a stopped reply) so the next turn continues the conversation; drop a failed turn.
  if (finish === "failed" && !replyText) {
    history.pop();
    reply.div.remove();
  } else {
    history.push({ role: "assistant", content: replyText });
  }
  const tokens = usage ? usage.completion_tokens : chunks;
  const stats = {
    ttft: first === null ? null : first - started,
    tokens,
    // Decode speed: the tokens after the first over the time after the first (the first one's time is the TTFT).
    tokensPerSecond: first !== null && tokens > 1 && ended > first ? (tokens - 1) / ((ended - first) / 1000) : null,
    cached: usage && usage.prompt_tokens_details ? usage.prompt_tokens_details.cached_tokens : 0,
    finish,
  };
  if (finish !== "failed") {
    const line = document.createElement("p");
    line.className = "stats";
    line.textContent = formatStats(stats);
    reply.div.append(line);
  }
  ui.status.textContent = finish === "failed" ? "The request failed." : `Reply ${finish}: ${formatStats(stats)}`;
}

ui.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  const text = ui.prompt.value.trim();
  if (!text || controller) return;
  ui.prompt.value = "";
  send(text);
});

ui.prompt.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    ui.composer.requestSubmit();
  }
});

ui.stop.addEventListener("click", () => { if (controller) controller.abort(); });

ui.newChat.addEventListener("click", () => {
  history = [];
  ui.messages.replaceChildren();
  ui.status.textContent = "New chat.";
  ui.prompt.focus();
});

// Show which model is served (needs the API key when the server has one; a failure here is not an error).
function showModel() {
  fetch("/v1/models", { headers: headers() })
    .then((r) => (r.ok ? r.json() : null))
    .then((body) => { ui.model.textContent = body && body.data && body.data[0] ? "Model: " + body.data[0].id : ""; })
    .catch(() => {});
}
ui.apiKey.addEventListener("change", showModel);
showModel();
