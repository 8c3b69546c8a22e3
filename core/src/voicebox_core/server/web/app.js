// The Voicebox page: everything it offers comes from GET /engines and the API. It names no
// engine: voice kinds, models, per-model languages (with their labels), instruct support and
// the limits on voice sample length are each engine's own metadata.

const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "voicebox-token";
const state = { engines: [], failed: [], profiles: [] };

// -- the API ------------------------------------------------------------------------------

async function request(path, options = {}, retried = false) {
  const headers = new Headers(options.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    // Asked once: requests refused at the same time retry with the token the first one got.
    if (sessionStorage.getItem(TOKEN_KEY) !== token) return request(path, options, true);
    const entered = window.prompt("This server needs its API token (VOICEBOX_API_TOKEN):");
    if (entered) {
      sessionStorage.setItem(TOKEN_KEY, entered.trim());
      return request(path, options, true);
    }
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = body.detail || message;
    } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

const getJSON = async (path) => (await request(path)).json();
const sendJSON = async (path, method, body) => (await request(path, {
  method, headers: { "Content-Type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
})).json();

// Server-Sent Events over fetch, so the token header goes along (EventSource sends none).
// onEvent returning false ends the stream.
async function events(path, onEvent) {
  const response = await request(path, { headers: { Accept: "text/event-stream" } });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
      if (data && onEvent(JSON.parse(data)) === false) {
        await reader.cancel();
        return;
      }
    }
  }
}

async function blobURL(path) {
  return URL.createObjectURL(await (await request(path)).blob());
}

function notice(error) {
  const box = $("notice");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

function option(value, text, selected = false) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  element.selected = selected;
  return element;
}

function fill(select, options, keep = true) {
  const previous = select.value;
  select.replaceChildren(...options);
  if (keep && [...select.options].some((o) => o.value === previous && !o.disabled)) select.value = previous;
}

function button(text, onClick, kind = "secondary") {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.className = kind;
  element.addEventListener("click", async () => {
    element.disabled = true;
    try { await onClick(); notice(null); } catch (error) { notice(error); } finally { element.disabled = false; }
  });
  return element;
}

function cell(row, content) {
  const td = row.insertCell();
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

// -- metadata ------------------------------------------------------------------------------

const engine = (name) => state.engines.find((e) => e.name === name);
const label = (info, code) => (info && info.language_labels && info.language_labels[code]) || code;
const allLabels = () => Object.assign({}, ...state.engines.map((e) => e.language_labels || {}));
const KIND_TEXT = { cloned: "Cloned from a clip", preset: "A preset voice", designed: "Designed from a description" };

function usableProfiles(info) {
  return state.profiles.filter((p) => (p.voice_type === "cloned" && info.voice_kinds.includes("cloned") && p.sample_count > 0)
    || (p.voice_type === "designed" && info.voice_kinds.includes("designed"))
    || (p.voice_type === "preset" && p.preset_engine === info.name));
}

async function loadMetadata() {
  const [listing, profiles, health] = await Promise.all([getJSON("/engines"), getJSON("/profiles"), getJSON("/health")]);
  state.engines = listing.engines;
  state.failed = listing.failed;
  state.profiles = profiles;
  $("server-status").textContent = `${health.engines} engine(s) · voicebox ${health.version}`;
  const list = $("failed-list");
  list.replaceChildren(...state.failed.map((f) => {
    const item = document.createElement("li");
    item.textContent = `${f.plugin} (${f.distribution} ${f.version}): ${f.stage} failed: ${f.error.split("\n")[0]} — fix: ${f.hint}`;
    return item;
  }));
  $("failed").hidden = state.failed.length === 0;
  renderGenerateForm();
  renderProfileForm();
}

// -- generate ------------------------------------------------------------------------------

function renderGenerateForm() {
  fill($("engine"), state.engines.map((e) => option(e.name, e.display_name)));
  onEngine();
}

function currentModel() {
  const info = engine($("engine").value);
  return info && info.models.find((m) => m.model_name === $("model").value);
}

function onEngine() {
  const info = engine($("engine").value);
  if (!info) return;
  $("engine-description").textContent = info.description || "";
  fill($("model"), info.models.map((m) => option(m.model_name,
    m.display_name + (m.downloaded || m.bundled ? "" : " (downloads on first use)"), m.model_name === info.default_model)), false);
  onModel();
}

function onModel() {
  const info = engine($("engine").value);
  const model = currentModel();
  if (!info || !model) return;
  const presets = info.preset_voices.filter((v) => !v.models.length || v.models.includes(model.model_name));
  const options = presets.map((v) => option(`preset:${v.voice_id}`, `${v.display_name} (${label(info, v.language)})`,
    v.voice_id === info.default_voice));
  for (const profile of usableProfiles(info)) options.push(option(`profile:${profile.id}`, `Profile: ${profile.name}`));
  if (!options.length) {
    options.push(option("", `no voice yet: create a ${info.voice_kinds.join(" or ")} profile`));
    options[0].disabled = true;
  }
  fill($("voice"), options);
  fill($("language"), model.languages.map((code) => option(code, label(info, code))));
  $("instruct-field").hidden = !model.supports_instruct;
  onVoice();
}

function onVoice() {
  const info = engine($("engine").value);
  const model = currentModel();
  const [kind, id] = $("voice").value.split(":");
  let language = null;
  if (kind === "preset") language = (info.preset_voices.find((v) => v.voice_id === id) || {}).language;
  if (kind === "profile") language = (state.profiles.find((p) => p.id === id) || {}).language;
  if (language && model.languages.includes(language)) $("language").value = language;
}

async function generate(event) {
  event.preventDefault();
  const status = $("generate-status");
  const [kind, id] = $("voice").value.split(":");
  const body = { text: $("text").value, engine: $("engine").value, model: $("model").value, language: $("language").value };
  if (kind === "preset") body.voice = id;
  if (kind === "profile") body.profile_id = id;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  if (!$("instruct-field").hidden && $("instruct").value.trim()) body.instruct = $("instruct").value.trim();
  $("generate").disabled = true;
  notice(null);
  try {
    const generation = await sendJSON("/generate", "POST", body);
    status.textContent = generation.status;
    let last = generation;
    await events(`/generate/${generation.id}/status`, (update) => {
      last = update;
      status.textContent = update.status.replace("_", " ");
      return !["completed", "failed", "not_found"].includes(update.status);
    });
    if (last.status !== "completed") throw new Error(last.error || `generation ${last.status}`);
    status.textContent = `completed (${Number(last.duration).toFixed(2)} s)`;
    const player = $("player");
    player.src = await blobURL(`/audio/${generation.id}`);
    player.hidden = false;
    player.dataset.generation = generation.id;
    await player.play().catch(() => {});
    renderHistory();
  } catch (error) {
    status.textContent = "failed";
    notice(error);
  } finally {
    $("generate").disabled = false;
  }
}

// -- profiles ------------------------------------------------------------------------------

let pendingClip = null; // a File: chosen, or recorded in the browser

function renderProfileForm() {
  const offered = new Set(state.engines.flatMap((e) => e.voice_kinds));
  const kinds = [...Object.keys(KIND_TEXT).filter((k) => offered.has(k)), ...[...offered].filter((k) => !(k in KIND_TEXT))];
  fill($("profile-kind"), kinds.map((k) => option(k, KIND_TEXT[k] || k)));
  const labels = allLabels();
  fill($("profile-language"), Object.keys(labels).sort((a, b) => labels[a].localeCompare(labels[b]))
    .map((code) => option(code, labels[code], code === "en")));
  fill($("profile-preset-engine"), state.engines.filter((e) => e.preset_voices.length)
    .map((e) => option(e.name, e.display_name)));
  const cloning = state.engines.filter((e) => e.voice_kinds.includes("cloned"));
  if (cloning.length) {
    const low = Math.max(...cloning.map((e) => e.reference_seconds[0]));
    const high = Math.min(...cloning.map((e) => e.reference_seconds[1]));
    $("clip-limits").textContent = `Clips of ${low}–${high} s suit every cloning engine here.`;
  }
  onProfileKind();
  onPresetEngine();
  renderProfiles();
}

function onProfileKind() {
  const kind = $("profile-kind").value;
  $("profile-cloned").hidden = kind !== "cloned";
  $("profile-preset").hidden = kind !== "preset";
  $("profile-designed").hidden = kind !== "designed";
}

function onPresetEngine() {
  const info = engine($("profile-preset-engine").value);
  fill($("profile-preset-voice"), info ? info.preset_voices.map((v) => option(v.voice_id,
    `${v.display_name} (${label(info, v.language)})`)) : []);
}

async function createProfile(event) {
  event.preventDefault();
  const kind = $("profile-kind").value;
  const body = { name: $("profile-name").value.trim(), voice_type: kind, language: $("profile-language").value };
  if (kind === "preset") Object.assign(body, { preset_engine: $("profile-preset-engine").value, preset_voice_id: $("profile-preset-voice").value });
  if (kind === "designed") body.design_prompt = $("profile-design").value;
  const clip = pendingClip || $("profile-clip").files[0];
  if (kind === "cloned" && !clip) {
    notice(new Error("a cloned profile needs a voice sample: choose an audio file or record one"));
    return;
  }
  $("create-profile").disabled = true;
  try {
    const profile = await sendJSON("/profiles", "POST", body);
    if (kind === "cloned") {
      const form = new FormData();
      form.append("file", clip, clip.name || "clip.wav");
      form.append("reference_text", $("profile-transcript").value);
      try {
        await request(`/profiles/${profile.id}/samples`, { method: "POST", body: form });
      } catch (error) {
        await request(`/profiles/${profile.id}`, { method: "DELETE" }).catch(() => {});
        throw error; // no profile without its clip
      }
    }
    $("profile-status").textContent = `created ${profile.name}`;
    $("profile-form").reset();
    pendingClip = null;
    $("record-status").textContent = "";
    state.profiles = await getJSON("/profiles");
    renderProfileForm();
    onModel();
    notice(null);
  } catch (error) {
    notice(error);
  } finally {
    $("create-profile").disabled = false;
  }
}

function renderProfiles() {
  const body = $("profiles-table").tBodies[0];
  body.replaceChildren();
  for (const profile of state.profiles) {
    const row = body.insertRow();
    row.dataset.profile = profile.id;
    cell(row, profile.name);
    cell(row, profile.voice_type + (profile.preset_engine ? ` (${profile.preset_engine}: ${profile.preset_voice_id})` : ""));
    cell(row, allLabels()[profile.language] || profile.language || "");
    cell(row, String(profile.sample_count ?? 0));
    cell(row, button("Delete", async () => {
      await request(`/profiles/${profile.id}`, { method: "DELETE" });
      state.profiles = await getJSON("/profiles");
      renderProfileForm();
      onModel();
    }, "danger")).className = "actions";
  }
}

// Recording: MediaRecorder, then decoded and written as 16-bit WAV (what every engine reads).
let recorder = null;
async function toggleRecording() {
  if (recorder) { recorder.stop(); return; }
  const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => chunks.push(e.data);
  recorder.onstop = async () => {
    stream.getTracks().forEach((t) => t.stop());
    recorder = null;
    $("record").textContent = "Record";
    const context = new AudioContext();
    const audio = await context.decodeAudioData(await new Blob(chunks).arrayBuffer());
    pendingClip = new File([wav(audio)], "recording.wav", { type: "audio/wav" });
    $("record-status").textContent = `recorded ${audio.duration.toFixed(1)} s`;
  };
  recorder.start();
  $("record").textContent = "Stop";
  $("record-status").textContent = "recording…";
}

function wav(audio) {
  const samples = audio.getChannelData(0);
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, "RIFF"); view.setUint32(4, 36 + samples.length * 2, true); text(8, "WAVE"); text(12, "fmt ");
  view.setUint32(16, 16, true); view.setUint16(20, 1, true); view.setUint16(22, 1, true);
  view.setUint32(24, audio.sampleRate, true); view.setUint32(28, audio.sampleRate * 2, true);
  view.setUint16(32, 2, true); view.setUint16(34, 16, true); text(36, "data"); view.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => view.setInt16(44 + i * 2, Math.max(-1, Math.min(1, s)) * 0x7fff, true));
  return buffer;
}

// -- models --------------------------------------------------------------------------------

async function renderModels() {
  const { models } = await getJSON("/models/status");
  const body = $("models-table").tBodies[0];
  body.replaceChildren();
  for (const model of models) {
    const row = body.insertRow();
    row.dataset.model = model.model_name;
    cell(row, `${model.display_name} (${model.model_name})`);
    cell(row, (engine(model.engine) || {}).display_name || model.engine);
    const stateText = model.bundled ? "bundled" : model.downloading ? "downloading" : model.downloaded ? "downloaded" : "not downloaded";
    cell(row, stateText + (model.loaded ? ", loaded" : ""));
    cell(row, model.downloaded ? `${model.size_on_disk_mb} MB` : model.expected_size_mb ? `~${model.expected_size_mb} MB` : "");
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = model.downloaded || model.bundled ? 100 : 0;
    cell(row, bar);
    const actions = cell(row, "");
    actions.className = "actions";
    if (!model.downloaded && !model.bundled && !model.downloading) {
      actions.append(button("Download", async () => {
        await sendJSON("/models/download", "POST", { model_name: model.model_name });
        await watchDownload(model.model_name, bar);
      }));
    }
    if (model.downloading) watchDownload(model.model_name, bar).catch(notice);
    if (model.downloaded || model.bundled) {
      actions.append(model.loaded
        ? button("Unload", async () => { await sendJSON(`/models/${model.model_name}/unload`, "POST"); await renderModels(); })
        : button("Load", async () => { await sendJSON(`/models/${model.model_name}/load`, "POST"); await renderModels(); }));
    }
    if (model.downloaded && !model.bundled) {
      actions.append(button("Delete", async () => {
        await request(`/models/${model.model_name}`, { method: "DELETE" });
        await renderModels();
      }, "danger"));
    }
  }
}

async function watchDownload(name, bar) {
  let failure = null;
  await events(`/models/progress/${encodeURIComponent(name)}`, (update) => {
    if (typeof update.progress === "number") bar.value = update.progress;
    if (update.status === "error") failure = update.error || "download failed";
    return !["complete", "error", "idle"].includes(update.status);
  });
  await renderModels();
  await loadMetadata();
  if (failure) throw new Error(failure);
}

// -- history -------------------------------------------------------------------------------

async function renderHistory() {
  const { items } = await getJSON("/history?limit=50");
  const body = $("history-table").tBodies[0];
  body.replaceChildren();
  for (const item of items) {
    const row = body.insertRow();
    row.dataset.generation = item.id;
    cell(row, new Date(item.created_at).toLocaleString());
    cell(row, item.profile_name || "");
    cell(row, (engine(item.engine) || {}).display_name || item.engine || "");
    cell(row, item.text.length > 80 ? `${item.text.slice(0, 80)}…` : item.text);
    cell(row, item.status + (item.error ? `: ${item.error}` : "")).className = item.status === "failed" ? "bad" : "";
    const actions = cell(row, "");
    actions.className = "actions";
    if (item.status === "completed") {
      actions.append(button("Play", async () => {
        const player = $("player");
        player.src = await blobURL(`/audio/${item.id}`);
        player.hidden = false;
        await player.play().catch(() => {});
      }));
      actions.append(button("Download", async () => {
        const link = document.createElement("a");
        link.href = await blobURL(`/history/${item.id}/export-audio`);
        link.download = `voicebox-${item.id}.wav`;
        link.click();
      }));
    }
    actions.append(button("Delete", async () => {
      await request(`/history/${item.id}`, { method: "DELETE" });
      await renderHistory();
    }, "danger"));
  }
}

// -- wiring --------------------------------------------------------------------------------

function showTab(name) {
  for (const tab of document.querySelectorAll("nav button")) tab.classList.toggle("active", tab.dataset.tab === name);
  for (const section of document.querySelectorAll("section.tab")) section.hidden = section.id !== `tab-${name}`;
  const render = { models: renderModels, history: renderHistory }[name];
  if (render) render().catch(notice);
}

window.addEventListener("DOMContentLoaded", async () => {
  for (const tab of document.querySelectorAll("nav button")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  $("engine").addEventListener("change", onEngine);
  $("model").addEventListener("change", onModel);
  $("voice").addEventListener("change", onVoice);
  $("generate-form").addEventListener("submit", generate);
  $("profile-form").addEventListener("submit", createProfile);
  $("profile-kind").addEventListener("change", onProfileKind);
  $("profile-preset-engine").addEventListener("change", onPresetEngine);
  $("profile-clip").addEventListener("change", () => { pendingClip = null; $("record-status").textContent = ""; });
  $("record").addEventListener("click", () => toggleRecording().catch(notice));
  try {
    await loadMetadata();
    document.body.dataset.ready = "true";
  } catch (error) {
    notice(error);
  }
});
