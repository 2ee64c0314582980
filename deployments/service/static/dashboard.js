// The clipflow dashboard: plain JavaScript over /api/v1, the key in session storage.
"use strict";

const POLL_MS = 2000;
const FINAL = new Set(["succeeded", "qa_failed", "rejected", "failed", "cancelled"]);
const $ = (id) => document.getElementById(id);
let pollTimer = null;
let shownJob = null; // {id, state} of the job page on screen: re-rendered only when it changes

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

const usd = (v) => (v === null || v === undefined ? "–" : `$${v.toFixed(v < 1 ? 3 : 2)}`);
const when = (iso) => new Date(iso).toLocaleString();
const stateChip = (state) => el("span", { class: `chip state-${state}`, text: state.replace("_", " ") });

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
  }
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem("clipflow-key");
  const headers = { Authorization: `Bearer ${key}`, ...(options.headers || {}) };
  const answer = await fetch(path, { ...options, headers });
  const body = answer.status === 204 ? null : await answer.json().catch(() => null);
  if (answer.status === 401) {
    signOut("That key was refused: it is unknown, malformed or revoked.");
  }
  if (!answer.ok) throw new ApiError(answer.status, body ? body.detail : answer.statusText);
  return body;
}

// --- signing in -------------------------------------------------------------------------------

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("sign-in-error").textContent = "";
  if (!key) {
    $("sign-in-error").textContent = "Enter your API key.";
    $("api-key").focus();
    return;
  }
  sessionStorage.setItem("clipflow-key", key);
  try {
    await api("/api/v1/jobs?limit=1");
  } catch (error) {
    if (error.status !== 401) $("sign-in-error").textContent = error.message;
    return;
  }
  $("api-key").value = "";
  showApp();
}

function signOut(message = "") {
  sessionStorage.removeItem("clipflow-key");
  clearTimeout(pollTimer);
  $("app").hidden = true;
  $("sign-out").hidden = true;
  $("sign-in").hidden = false;
  $("sign-in-error").textContent = message;
  $("api-key").value = "";
  $("api-key").focus();
}

function showApp() {
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("sign-out").hidden = false;
  route();
}

// --- the job list -----------------------------------------------------------------------------

function jobItem(job) {
  return el(
    "li",
    { "data-job": job.id, "data-state": job.state },
    el(
      "a",
      { href: `#job/${job.id}`, "aria-label": `Job ${job.id}: ${job.state}, ${job.source}` },
      stateChip(job.state),
      el("span", { class: "source", text: job.source }),
      el("span", { class: "hint", text: when(job.created_at) }),
      el("span", { text: usd(job.cost_usd) }),
    ),
  );
}

function costChart(jobs, budget) {
  const costed = jobs.filter((j) => j.cost_usd !== null).reverse();
  if (!costed.length) return el("p", { class: "hint", text: "No job has a cost yet." });
  const width = 600, height = 180, pad = 28;
  const top = Math.max(budget * 1.2, ...costed.map((j) => j.cost_usd));
  const y = (v) => height - pad - (v / top) * (height - 2 * pad);
  const step = (width - 2 * pad) / costed.length;
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  const total = costed.reduce((sum, j) => sum + j.cost_usd, 0);
  svg.setAttribute(
    "aria-label",
    `Cost of ${costed.length} jobs, ${usd(total)} in all, against a budget of ${usd(budget)} a job`,
  );
  const add = (tag, attrs, text) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    svg.append(node);
    return node;
  };
  costed.forEach((job, i) => {
    const bar = add("rect", {
      class: job.cost_usd > budget ? "bar over" : "bar",
      x: pad + i * step + step * 0.15,
      y: y(job.cost_usd),
      width: step * 0.7,
      height: height - pad - y(job.cost_usd),
    });
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = `${new Date(job.created_at).toLocaleDateString()}: ${usd(job.cost_usd)}`;
    bar.append(title);
  });
  add("line", { class: "budget", x1: pad, x2: width - pad, y1: y(budget), y2: y(budget) });
  add("text", { x: pad, y: y(budget) - 4 }, `budget ${usd(budget)} a job`);
  add("text", { x: pad, y: height - 8 }, `${costed.length} jobs, ${usd(total)} in all`);
  return svg;
}

// Poll results replace a list only when it changed, and keep the keyboard focus on the same job:
// re-rendering every poll would throw a keyboard user's focus (and a screen reader's place) away.
function replaceList(container, nodes) {
  const fresh = document.createElement(container.tagName);
  fresh.append(...nodes);
  if (fresh.innerHTML === container.innerHTML) return;
  const focused = container.contains(document.activeElement)
    ? document.activeElement.closest("[data-job]")?.dataset.job
    : null;
  container.replaceChildren(...fresh.childNodes);
  if (focused) container.querySelector(`[data-job="${focused}"] a`)?.focus();
}

async function loadJobs() {
  const [page, costs] = await Promise.all([
    api("/api/v1/jobs?limit=100"),
    api("/api/v1/costs"),
  ]);
  replaceList($("jobs"), page.jobs.length
    ? page.jobs.map(jobItem)
    : [el("li", { class: "hint", text: "No jobs yet." })]);
  const failed = page.jobs.filter((j) => ["failed", "rejected", "qa_failed"].includes(j.state));
  replaceList($("failed"), failed.length
    ? failed.map((j) =>
      el("li", { "data-job": j.id }, stateChip(j.state), " ",
        el("a", { href: `#job/${j.id}`, text: j.source }), el("div", { text: j.error || "" })))
    : [el("li", { class: "hint", text: "None." })]);
  replaceList($("cost-chart"), [costChart(page.jobs, costs.budget_usd)]);
  $("jobs-updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
}

// --- submitting ---------------------------------------------------------------------------------

const FIELDS = ["source", "transcript", "max_clips"];

function fieldError(name, message) {
  const slot = $(`${name}-error`) || $("form-error");
  slot.textContent = message;
  const input = $(name);
  if (input) input.setAttribute("aria-invalid", message ? "true" : "false");
}

function validate(form) {
  let ok = true;
  for (const name of FIELDS) fieldError(name, "");
  $("form-error").textContent = "";
  if (!form.source.value.trim()) {
    fieldError("source", "Enter the recording: a path on the workers or s3://bucket/key.");
    ok = false;
  }
  const clips = Number(form.max_clips.value);
  if (!Number.isInteger(clips) || clips < 1 || clips > 20) {
    fieldError("max_clips", "Choose between 1 and 20 clips.");
    ok = false;
  }
  return ok;
}

function showServerError(error) {
  if (Array.isArray(error.detail)) {
    for (const problem of error.detail) {
      const name = problem.loc[problem.loc.length - 1];
      fieldError(FIELDS.includes(name) ? name : "form", `${name}: ${problem.msg}`);
    }
    return;
  }
  const name = FIELDS.find((f) => error.message.startsWith(`${f} `));
  if (name) fieldError(name, error.message);
  else $("form-error").textContent = error.message;
}

async function submitJob(event) {
  event.preventDefault();
  const form = event.target;
  if (!validate(form)) {
    form.querySelector("[aria-invalid=true]").focus();
    return;
  }
  const body = {
    source: form.source.value.trim(),
    max_clips: Number(form.max_clips.value),
    aspect: form.aspect.value,
  };
  if (form.transcript.value.trim()) body.transcript = form.transcript.value.trim();
  try {
    const job = await api("/api/v1/jobs", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": crypto.randomUUID() },
      body: JSON.stringify(body),
    });
    form.reset();
    $("form-error").textContent = "";
    await loadJobs();
    document.querySelector(`#jobs [data-job="${job.id}"] a`)?.focus();
  } catch (error) {
    showServerError(error);
  }
}

// --- one job ------------------------------------------------------------------------------------

function checks(list) {
  return el("ul", { class: "chips" }, list.map((c) =>
    el("li", { class: `chip ${c.passed ? "pass" : "fail"}`, title: `value ${c.value}, threshold ${JSON.stringify(c.threshold)}`,
      text: `${c.passed ? "✓" : "✗"} ${c.name}` })));
}

function clipItem(clip) {
  return el("li", { "data-clip": clip.index },
    el("h3", { text: `${clip.index}. ${clip.title || "Clip"}` }),
    clip.url ? el("video", { src: clip.url, controls: true, preload: "metadata", playsinline: true,
      "aria-label": `Clip ${clip.index}` }) : el("p", { class: "hint", text: "No file yet." }),
    el("p", { text: clip.text || "" }),
    el("p", { class: "hint", text: `${clip.start_s.toFixed(1)}–${clip.end_s.toFixed(1)} s, ${clip.duration_s.toFixed(1)} s` }),
    checks(clip.checks));
}

function renderJob(job) {
  const body = [
    el("h2", { text: `Job ${job.id}` }),
    el("p", {}, stateChip(job.state), " ", el("span", { text: job.source })),
  ];
  if (job.error) body.push(el("p", { class: "error", text: job.error }));
  if (job.stages_done.length) body.push(el("p", { class: "hint", text: `Done: ${job.stages_done.join(", ")}` }));
  if (!FINAL.has(job.state)) {
    body.push(el("button", { type: "button", class: "secondary", id: "cancel", text: "Cancel job" }));
  }
  if (job.qa_checks.length) body.push(el("h3", { text: "Quality checks" }), checks(job.qa_checks));
  if (job.clips.length) body.push(el("h3", { text: "Clips" }), el("ul", { class: "clips" }, job.clips.map(clipItem)));
  if (job.cost_items.length || job.cost_usd !== null) {
    body.push(el("h3", { text: `Cost ${usd(job.cost_usd)}` }), el("table", {},
      el("tr", {}, ["stage", "resource", "quantity", "USD"].map((h) => el("th", { text: h }))),
      job.cost_items.map((c) => el("tr", {}, el("td", { text: c.stage }), el("td", { text: c.resource }),
        el("td", { text: `${c.quantity.toFixed(2)} ${c.unit}` }), el("td", { text: usd(c.usd) })))));
  }
  $("job").replaceChildren(...body);
  $("cancel")?.addEventListener("click", async () => {
    try {
      renderJob(await api(`/api/v1/jobs/${job.id}`, { method: "DELETE" }));
    } catch (error) {
      $("job").prepend(el("p", { class: "error", role: "alert", text: error.message }));
    }
  });
}

async function loadJob(id) {
  const job = await api(`/api/v1/jobs/${id}`);
  if (!shownJob || shownJob.id !== job.id || shownJob.state !== job.state) renderJob(job);
  shownJob = { id: job.id, state: job.state };
  return FINAL.has(job.state);
}

// --- which page, and polling ------------------------------------------------------------------

async function route() {
  clearTimeout(pollTimer);
  const match = location.hash.match(/^#job\/([0-9a-z]+)$/);
  $("job-view").hidden = !match;
  $("jobs-view").hidden = Boolean(match);
  if (!match) shownJob = null;
  const poll = async () => {
    try {
      const done = match ? await loadJob(match[1]) : (await loadJobs(), false);
      if (!done && !$("app").hidden) pollTimer = setTimeout(poll, POLL_MS);
    } catch (error) {
      if (error.status !== 401) {
        (match ? $("job") : $("jobs-updated")).textContent = error.message;
        pollTimer = setTimeout(poll, POLL_MS * 5);
      }
    }
  };
  await poll();
}

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", () => signOut());
$("submit-form").addEventListener("submit", submitJob);
window.addEventListener("hashchange", route);
if (sessionStorage.getItem("clipflow-key")) showApp();
else $("api-key").focus();
