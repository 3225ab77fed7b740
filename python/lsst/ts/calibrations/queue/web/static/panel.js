// This file is part of ts_calibrations (GPL-3.0-or-later): the queue panel's page.
//
// It speaks LOVE's protocol (see doc/queue/panel.rst): websocket subscriptions in
// LOVE's envelope, commands as POST /manager/api/cmd/ {cmd, csc, salindex, params}.
// Every value from the server is shown with textContent, never parsed as HTML.
"use strict";

(() => {
  const LOCATION = { FIRST: 1, LAST: 2, BEFORE: 3, AFTER: 4 };
  const VALIDATE_DELAY_MS = 300;
  const MAX_LOG = 200;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: sessionStorage.getItem("queuePanelToken") || "",
    salindex: 1,
    maxConfigBytes: 65536,
    taiOffset: 37.0,
    queue: { enabled: false, running: false, summaryState: 0, summaryStateName: "UNKNOWN" },
    scripts: { current_scripts: [], waiting_scripts: [], finished_scripts: [] },
    available: [],
    logs: new Map(),
    selected: null,
    validateTimer: null,
    validateSeq: 0,
    ws: null,
    openDetails: new Set(),
  };

  // DOM helpers: text only.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "class") node.className = value;
        else if (key === "dataset") Object.assign(node.dataset, value);
        else if (key === "onclick") node.addEventListener("click", value);
        else if (key === "title" || key === "type" || key === "draggable") node.setAttribute(key, String(value));
        else node[key] = value;
      }
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function say(text, kind) {
    const box = $("messages");
    const line = el("div", { class: kind || "" }, text);
    box.prepend(line);
    while (box.childNodes.length > 4) box.removeChild(box.lastChild);
    setTimeout(() => line.remove(), 15000);
  }

  function fmtDuration(seconds) {
    if (!(seconds > 0)) return "-";
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const r = s % 60;
    return (h ? `${h}h ` : "") + (h || m ? `${m}m ` : "") + `${r}s`;
  }

  function fmtTime(tai) {
    if (!(tai > 0)) return "-";
    return new Date((tai - 37.0) * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
  }

  function nowTai() {
    return Date.now() / 1000 + state.taiOffset;
  }

  // HTTP.

  function headers() {
    const h = { "Content-Type": "application/json" };
    if (state.token) h.Authorization = `Token ${state.token}`;
    return h;
  }

  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      askToken("The token was refused.");
      throw new Error("unauthorized");
    }
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = { error: `HTTP ${response.status}` };
    }
    return { status: response.status, data };
  }

  async function command(cmd, params, csc, salindex) {
    const body = { cmd: `cmd_${cmd}`, csc: csc || "ScriptQueue", salindex: salindex ?? state.salindex, params: params || {} };
    const { status, data } = await api("POST", "/manager/api/cmd/", body);
    if (status === 200) {
      say(`${cmd}: ${data.ack}${data.result ? " (" + data.result + ")" : ""}`, "ok");
    } else {
      say(`${cmd} failed: ${data.error || data.result || data.ack}`, "bad");
    }
    return { status, data };
  }

  function stopScripts(indices, terminate) {
    const salIndices = new Array(400).fill(0);
    indices.forEach((index, i) => (salIndices[i] = index));
    return command("stopScripts", { length: indices.length, salIndices, terminate });
  }

  // Token.

  function askToken(message) {
    $("token-error").textContent = message || "";
    $("token-dialog").hidden = false;
    $("token-input").focus();
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("queuePanelToken", state.token);
    $("token-dialog").hidden = true;
    start();
  });

  // Websocket: LOVE's subscriptions.

  function subscribe(category, csc, salindex, stream) {
    if (state.ws && state.ws.readyState === WebSocket.OPEN) {
      state.ws.send(JSON.stringify({ option: "subscribe", category, csc, salindex, stream }));
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = state.token ? `?token=${encodeURIComponent(state.token)}` : "";
    const ws = new WebSocket(`${scheme}://${location.host}/manager/ws/subscription${query}`);
    state.ws = ws;
    $("connection").textContent = "CONNECTING";
    ws.onopen = () => {
      $("connection").textContent = "CONNECTED";
      $("connection").className = "badge ok";
      const i = state.salindex;
      ws.send(JSON.stringify({ action: "get_time_data", request_time: Date.now() / 1000 }));
      subscribe("event", "ScriptQueueState", i, "stateStream");
      subscribe("event", "ScriptQueueState", i, "scriptsStream");
      subscribe("event", "ScriptQueueState", i, "availableScriptsStream");
      subscribe("event", "ScriptQueue", i, "summaryState");
      subscribe("event", "ScriptHeartbeats", i, "stream");
      subscribe("event", "Script", 0, "logMessage");
    };
    ws.onclose = () => {
      $("connection").textContent = "DISCONNECTED";
      $("connection").className = "badge bad";
      if (state.ws === ws) setTimeout(connect, 2000);
    };
    ws.onmessage = (msg) => receive(JSON.parse(msg.data));
  }

  function receive(message) {
    if (!message.category) {
      if (message.time_data) {
        const rtt = Date.now() / 1000 - message.request_time;
        state.taiOffset = message.time_data.tai + rtt / 2 - Date.now() / 1000;
      }
      return;
    }
    if (message.category !== "event") return;
    for (const item of message.data) {
      const data = item.data;
      if (item.csc === "ScriptQueueState") {
        if (data.stateStream) {
          state.queue = data.stateStream;
          renderQueueState();
        }
        if (data.scriptsStream) {
          state.scripts = data.scriptsStream;
          renderScripts();
        }
        if (data.availableScriptsStream) {
          state.available = data.availableScriptsStream.available_scripts;
          renderTree();
          refreshSchema();
        }
      } else if (item.csc === "ScriptQueue" && data.summaryState) {
        const last = data.summaryState[data.summaryState.length - 1];
        state.queue.summaryState = last.summaryState.value;
      } else if (item.csc === "ScriptHeartbeats" && data.stream) {
        const hb = data.stream.script_heartbeat;
        const current = state.scripts.current_scripts[0];
        if (current && current.index === hb.salindex) {
          current.lost_heartbeats = hb.lost;
          renderCurrent();
        }
      } else if (item.csc === "Script" && data.logMessage) {
        for (const fields of data.logMessage) addLog(item.salindex, fields);
      }
    }
  }

  function addLog(index, fields) {
    let log = state.logs.get(index);
    if (!log) {
      log = [];
      state.logs.set(index, log);
    }
    const key = `${fields.private_sndStamp?.value}|${fields.message.value}`;
    if (log.some((entry) => entry.key === key)) return;
    log.push({ key, level: fields.level.value, name: fields.name.value, message: fields.message.value, time: fields.private_sndStamp?.value });
    if (log.length > MAX_LOG) log.shift();
    const current = state.scripts.current_scripts[0];
    if (current && current.index === index) renderLog($("current-log"), log);
    const open = document.querySelector(`pre[data-log-index="${index}"]`);
    if (open) renderLog(open, log);
  }

  function renderLog(pre, log) {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    clear(pre);
    for (const entry of log) {
      pre.append(el("div", { class: `lvl-${entry.level}` }, `${fmtTime(entry.time).slice(11, 19)} ${entry.message}`));
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  // Queue state.

  const SUMMARY_NAMES = { 1: "DISABLED", 2: "ENABLED", 3: "FAULT", 4: "OFFLINE", 5: "STANDBY" };

  function renderQueueState() {
    const q = state.queue;
    const name = SUMMARY_NAMES[q.summaryState] || "UNKNOWN";
    const summary = $("summary-state");
    summary.textContent = name;
    summary.className = "badge " + (name === "ENABLED" ? "ok" : name === "FAULT" ? "bad" : "warn");
    const running = $("queue-running");
    running.textContent = q.running ? "RUNNING" : "PAUSED";
    running.className = "badge " + (q.running ? "ok" : "warn");
    $("btn-enable").disabled = name === "ENABLED";
    $("btn-disable").disabled = name !== "ENABLED";
    $("btn-pause").disabled = !q.running;
    $("btn-resume").disabled = q.running;
  }

  $("btn-enable").addEventListener("click", async () => {
    if (state.queue.summaryState === 5) await command("start");
    await command("enable");
  });
  $("btn-disable").addEventListener("click", () => command("disable"));
  $("btn-pause").addEventListener("click", () => command("pause"));
  $("btn-resume").addEventListener("click", () => command("resume"));

  // Available scripts.

  function renderTree() {
    const filter = $("script-filter").value.trim().toLowerCase();
    const tree = $("script-tree");
    clear(tree);
    for (const kind of ["standard", "external"]) {
      const scripts = state.available.filter((s) => s.type === kind && s.path.toLowerCase().includes(filter));
      const root = el("ul");
      const dirs = new Map();
      for (const script of scripts) {
        const parts = script.path.split("/");
        const dirName = parts.slice(0, -1).join("/");
        let list = root;
        if (dirName) {
          if (!dirs.has(dirName)) {
            const sub = el("ul");
            root.append(el("li", { class: "dir" }, dirName + "/", sub));
            dirs.set(dirName, sub);
          }
          list = dirs.get(dirName);
        }
        const button = el("button", { type: "button", title: "Configure and add", onclick: () => openConfig(script) }, "\u25B6");
        list.append(el("li", { class: "script", dataset: { path: script.path, kind } }, button, el("span", { class: "mono" }, parts[parts.length - 1])));
      }
      tree.append(el("h3", null, `${kind.toUpperCase()} (${scripts.length})`), root);
    }
  }
  $("script-filter").addEventListener("input", renderTree);

  // Configuration panel.

  function selectedKey() {
    return { isStandard: state.selected.type === "standard", path: state.selected.path };
  }

  function openConfig(script) {
    state.selected = { type: script.type, path: script.path };
    $("config-panel").hidden = false;
    $("config-path").textContent = `${script.type}/${script.path}`;
    $("check-result").hidden = true;
    $("check-status").textContent = "";
    refreshSchema(true);
    loadSaved();
    validateNow();
  }

  function currentSchema() {
    if (!state.selected) return "";
    const s = state.available.find((a) => a.type === state.selected.type && a.path === state.selected.path);
    return s ? s.configSchema : "";
  }

  function refreshSchema(askIfMissing) {
    if (!state.selected) return;
    const schema = currentSchema();
    $("schema").textContent = schema || "Loading schema...";
    if (!schema && askIfMissing) reloadSchema();
    if (schema && $("validation-status").dataset.waiting === "1") validateNow();
  }

  function reloadSchema() {
    if (!state.selected) return;
    $("schema").textContent = "Loading schema...";
    command("showSchema", selectedKey());
  }
  $("btn-reload-schema").addEventListener("click", reloadSchema);
  $("btn-close-config").addEventListener("click", () => {
    $("config-panel").hidden = true;
    state.selected = null;
  });

  function renderGutter(errorLine) {
    const lines = $("config-editor").value.split("\n").length;
    const gutter = $("gutter");
    clear(gutter);
    for (let i = 1; i <= Math.max(lines, 1); i += 1) {
      gutter.append(el("div", { class: i === errorLine ? "err-line" : "" }, String(i)));
    }
    gutter.scrollTop = $("config-editor").scrollTop;
  }
  $("config-editor").addEventListener("scroll", () => ($("gutter").scrollTop = $("config-editor").scrollTop));

  function setStatus(name) {
    const status = $("validation-status");
    status.textContent = name;
    status.className = `status status-${name.toLowerCase()}`;
  }

  function scheduleValidate() {
    renderGutter();
    setStatus("VALIDATING");
    clearTimeout(state.validateTimer);
    state.validateTimer = setTimeout(validateNow, VALIDATE_DELAY_MS);
  }
  $("config-editor").addEventListener("input", scheduleValidate);

  async function validateNow() {
    if (!state.selected) return;
    const config = $("config-editor").value;
    const seq = ++state.validateSeq;
    const box = $("validation-error");
    if (!currentSchema()) {
      setStatus("EMPTY");
      $("validation-status").dataset.waiting = "1";
      box.hidden = false;
      box.textContent = "Waiting for the schema";
      return;
    }
    $("validation-status").dataset.waiting = "0";
    setStatus("VALIDATING");
    const { data } = await api("POST", "/manager/api/validate-config-schema/", { config, ...selectedKey() });
    if (seq !== state.validateSeq) return;
    const defaults = $("defaults");
    if (data.valid) {
      setStatus(config.trim() ? "VALID" : "EMPTY");
      box.hidden = true;
      box.textContent = "";
      renderGutter();
      const names = Object.keys(data.defaults || {});
      $("defaults-count").textContent = String(names.length);
      defaults.textContent = names.map((n) => `${n}: ${JSON.stringify(data.defaults[n])}`).join("\n");
    } else {
      setStatus("ERROR");
      const e = data.error || {};
      let text = data.title + "\n";
      if (e.line) text += `line ${e.line}, column ${e.column}: `;
      if (e.path_text) text += `at ${e.path_text}: `;
      text += e.message || "";
      box.hidden = false;
      box.textContent = text;
      renderGutter(e.line);
    }
  }

  function options() {
    return {
      descr: $("opt-descr").value,
      pauseCheckpoint: $("opt-pause").value,
      stopCheckpoint: $("opt-stop").value,
      logLevel: parseInt($("opt-loglevel").value, 10),
      location: parseInt(document.querySelector('input[name="location"]:checked').value, 10),
    };
  }

  $("btn-add").addEventListener("click", async () => {
    if (!state.selected) return;
    const config = $("config-editor").value;
    if (new TextEncoder().encode(config).length > state.maxConfigBytes) {
      say(`The configuration is larger than ${state.maxConfigBytes} bytes`, "bad");
      return;
    }
    const o = options();
    await command("add", { ...selectedKey(), config, descr: o.descr, location: o.location, locationSalIndex: 0, logLevel: o.logLevel, pauseCheckpoint: o.pauseCheckpoint, stopCheckpoint: o.stopCheckpoint });
    loadSaved();
  });

  $("btn-check").addEventListener("click", async () => {
    if (!state.selected) return;
    const button = $("btn-check");
    button.disabled = true;
    $("check-status").textContent = "CHECKING...";
    $("check-status").className = "status status-validating";
    $("check-result").hidden = true;
    try {
      const { data } = await api("POST", "/manager/api/check-config/", { ...selectedKey(), config: $("config-editor").value, logLevel: options().logLevel });
      const ok = data.ok === true;
      $("check-status").textContent = ok ? "CHECK PASSED" : `CHECK FAILED: ${data.reason || data.error || ""}`;
      $("check-status").className = `status ${ok ? "status-valid" : "status-error"}`;
      $("check-result").hidden = false;
      $("check-duration").textContent = fmtDuration(data.duration);
      $("check-nimages").textContent = data.nimages > 0 ? String(data.nimages) : "not stated by the script";
      $("check-plan").textContent = data.plan || "";
      $("check-log").textContent = (data.log || []).map((l) => l.message).join("\n");
    } finally {
      button.disabled = false;
    }
  });

  // Saved configurations.

  async function loadSaved() {
    if (!state.selected) return;
    const k = selectedKey();
    const { data } = await api("GET", `/manager/api/configs/?isStandard=${k.isStandard}&path=${encodeURIComponent(k.path)}`);
    const select = $("saved-select");
    clear(select);
    state.savedConfigs = data.configs || [];
    state.lastConfig = data.last;
    for (const c of state.savedConfigs) select.append(el("option", { value: c.name }, c.name));
    $("btn-load-last").disabled = !data.last;
  }

  function setConfig(text) {
    $("config-editor").value = text;
    scheduleValidate();
  }

  $("btn-load-saved").addEventListener("click", () => {
    const name = $("saved-select").value;
    const c = (state.savedConfigs || []).find((s) => s.name === name);
    if (c) setConfig(c.config);
  });
  $("btn-load-last").addEventListener("click", () => {
    if (state.lastConfig) setConfig(state.lastConfig.config);
  });
  $("btn-save").addEventListener("click", async () => {
    const { status, data } = await api("POST", "/manager/api/configs/", { ...selectedKey(), name: $("save-name").value, config: $("config-editor").value });
    say(status === 200 ? `Saved "${data.saved}"` : `Not saved: ${data.error}`, status === 200 ? "ok" : "bad");
    loadSaved();
  });
  $("btn-delete-saved").addEventListener("click", async () => {
    const k = selectedKey();
    const name = $("saved-select").value;
    if (!name) return;
    await api("DELETE", `/manager/api/configs/?isStandard=${k.isStandard}&path=${encodeURIComponent(k.path)}&name=${encodeURIComponent(name)}`);
    loadSaved();
  });

  // Scripts: current, waiting, finished.

  function renderScripts() {
    renderCurrent();
    renderWaiting();
    renderFinished();
  }

  function renderCurrent() {
    const box = $("current");
    const current = state.scripts.current_scripts[0];
    clear(box);
    const buttons = ["btn-cur-stop", "btn-cur-terminate", "btn-cur-requeue"];
    buttons.forEach((id) => ($(id).disabled = !current));
    $("btn-cur-resume").hidden = !current || current.script_state !== "PAUSED";
    if (!current) {
      box.className = "current empty";
      box.textContent = "No script running";
      clear($("current-log"));
      return;
    }
    box.className = "current";
    box.dataset.index = String(current.index);
    const elapsed = current.timestampRunStart > 0 ? nowTai() - current.timestampRunStart : 0;
    const expected = current.expected_duration;
    const fraction = expected > 0 ? Math.min(1, elapsed / expected) : 0;
    box.append(
      ...[
      el("div", { class: "line" }, el("span", { class: "path mono" }, current.path), el("span", { class: "idx" }, `#${current.index}`), el("span", { class: `state state-${current.script_state}` }, current.script_state), el("span", { class: "pstate" }, current.process_state)),
      el("div", { class: "line" }, el("span", { class: "elapsed" }, `Elapsed ${fmtDuration(elapsed)} of ${fmtDuration(expected)} expected`), el("span", { class: "checkpoint" }, `Last checkpoint: ${current.last_checkpoint || "-"}`), el("span", { class: "heartbeat" }, `Lost heartbeats: ${current.lost_heartbeats}`)),
      el("div", { class: "progress" }, el("div")),
      current.descr ? el("div", { class: "descr" }, current.descr) : null,
      ].filter((node) => node !== null),
    );
    box.querySelector(".progress div").style.width = `${(fraction * 100).toFixed(1)}%`;
    renderLog($("current-log"), state.logs.get(current.index) || []);
  }
  setInterval(() => {
    if (state.scripts.current_scripts[0]) {
      const span = document.querySelector("#current .elapsed");
      const current = state.scripts.current_scripts[0];
      if (span && current.timestampRunStart > 0) span.textContent = `Elapsed ${fmtDuration(nowTai() - current.timestampRunStart)} of ${fmtDuration(current.expected_duration)} expected`;
    }
  }, 1000);

  const currentIndex = () => state.scripts.current_scripts[0]?.index;
  $("btn-cur-stop").addEventListener("click", () => stopScripts([currentIndex()], false));
  $("btn-cur-terminate").addEventListener("click", () => stopScripts([currentIndex()], true));
  $("btn-cur-requeue").addEventListener("click", () => command("requeue", { scriptSalIndex: currentIndex(), location: LOCATION.LAST, locationSalIndex: 0 }));
  $("btn-cur-resume").addEventListener("click", () => command("resume", {}, "Script", currentIndex()));

  function move(index, targetPosition) {
    const waiting = state.scripts.waiting_scripts;
    const others = waiting.filter((s) => s.index !== index);
    if (targetPosition <= 0) return command("move", { scriptSalIndex: index, location: LOCATION.FIRST, locationSalIndex: 0 });
    if (targetPosition >= others.length) return command("move", { scriptSalIndex: index, location: LOCATION.LAST, locationSalIndex: 0 });
    return command("move", { scriptSalIndex: index, location: LOCATION.BEFORE, locationSalIndex: others[targetPosition].index });
  }

  // The waiting list is rebuilt only when what it shows changes, and never under a drag: an
  // update arriving mid-drag (another script's state, a heartbeat) would replace the dragged
  // item and lose the drop. The update is drawn when the drag ends.
  const waitingView = { shown: "", dragging: false, pending: false };

  function renderWaiting() {
    const list = $("waiting");
    const waiting = state.scripts.waiting_scripts;
    $("waiting-count").textContent = String(waiting.length);
    if (waitingView.dragging) {
      waitingView.pending = true;
      return;
    }
    const shown = JSON.stringify(waiting.map((s) => [s.index, s.path, s.script_state, s.expected_duration, s.descr]));
    if (shown === waitingView.shown) return;
    waitingView.shown = shown;
    clear(list);
    waiting.forEach((script, position) => {
      const item = el(
        "li",
        { draggable: "true", dataset: { index: String(script.index) } },
        el("div", { class: "head" },
          el("span", { class: "path mono" }, script.path),
          el("span", { class: "idx" }, `#${script.index}`),
          el("span", { class: `state state-${script.script_state}` }, script.script_state),
          el("span", { class: "duration" }, `~${fmtDuration(script.expected_duration)}`),
          el("span", { class: "spacer" }),
          el("button", { type: "button", class: "up", title: "Move up", disabled: position === 0, onclick: () => move(script.index, position - 1) }, "\u25B2"),
          el("button", { type: "button", class: "down", title: "Move down", disabled: position === waiting.length - 1, onclick: () => move(script.index, position + 1) }, "\u25BC"),
          el("button", { type: "button", class: "stop", title: "Remove from the queue", onclick: () => stopScripts([script.index], false) }, "STOP"),
        ),
        script.descr ? el("div", { class: "descr" }, script.descr) : null,
      );
      item.addEventListener("dragstart", (event) => {
        event.dataTransfer.setData("text/plain", String(script.index));
        event.dataTransfer.effectAllowed = "move";
        waitingView.dragging = true;
      });
      item.addEventListener("dragend", () => {
        waitingView.dragging = false;
        if (waitingView.pending) {
          waitingView.pending = false;
          renderWaiting();
        }
      });
      item.addEventListener("dragover", (event) => {
        event.preventDefault();
        item.classList.add("drag-over");
      });
      item.addEventListener("dragleave", () => item.classList.remove("drag-over"));
      item.addEventListener("drop", (event) => {
        event.preventDefault();
        item.classList.remove("drag-over");
        const source = parseInt(event.dataTransfer.getData("text/plain"), 10);
        if (!source || source === script.index) return;
        if (position === 0) command("move", { scriptSalIndex: source, location: LOCATION.FIRST, locationSalIndex: 0 });
        else command("move", { scriptSalIndex: source, location: LOCATION.BEFORE, locationSalIndex: script.index });
      });
      list.append(item);
    });
  }

  const dropEnd = $("waiting-end");
  dropEnd.addEventListener("dragover", (event) => {
    event.preventDefault();
    dropEnd.classList.add("drag-over");
  });
  dropEnd.addEventListener("dragleave", () => dropEnd.classList.remove("drag-over"));
  dropEnd.addEventListener("drop", (event) => {
    event.preventDefault();
    dropEnd.classList.remove("drag-over");
    const source = parseInt(event.dataTransfer.getData("text/plain"), 10);
    if (source) command("move", { scriptSalIndex: source, location: LOCATION.LAST, locationSalIndex: 0 });
  });

  function renderFinished() {
    const list = $("finished");
    const finished = state.scripts.finished_scripts;
    $("finished-count").textContent = String(finished.length);
    clear(list);
    for (const script of finished) {
      const processEnded = ["TERMINATED", "LOADFAILED", "CONFIGUREFAILED"].includes(script.process_state);
      const final = processEnded || script.script_state === "UNKNOWN" ? script.process_state : script.script_state;
      const ran = script.timestampRunStart > 0 && script.timestampProcessEnd > 0 ? script.timestampProcessEnd - script.timestampRunStart : 0;
      const head = el("div", { class: "head" },
        el("span", { class: "path mono" }, script.path),
        el("span", { class: "idx" }, `#${script.index}`),
        el("span", { class: `state state-${final}` }, final),
        el("span", { class: "duration" }, `ran ${fmtDuration(ran)}`),
        el("span", { class: "spacer" }),
      );
      if (script.report && typeof script.report.href === "string" && script.report.href.startsWith("/reports/")) {
        head.append(el("a", { class: "report", href: script.report.href, target: "_blank", rel: "noopener noreferrer" }, "REPORT"));
      }
      head.append(el("button", { type: "button", class: "requeue", onclick: () => command("requeue", { scriptSalIndex: script.index, location: LOCATION.LAST, locationSalIndex: 0 }) }, "REQUEUE"));
      const details = el("details", { dataset: { index: String(script.index) } },
        el("summary", null, "Details"),
        el("div", null, `Started ${fmtTime(script.timestampProcessStart)}; configured ${fmtTime(script.timestampConfigureEnd)}; run ${fmtTime(script.timestampRunStart)}; ended ${fmtTime(script.timestampProcessEnd)}`),
        script.reason ? el("div", { class: "reason" }, `Reason: ${script.reason}`) : null,
        script.descr ? el("div", { class: "descr" }, `Description: ${script.descr}`) : null,
        el("h3", null, "CONFIGURATION"),
        el("pre", { class: "config mono" }, script.config === null ? "(added elsewhere: not known to this panel)" : script.config || "(empty: defaults)"),
        el("h3", null, "LOG"),
        el("pre", { class: "log mono", dataset: { logIndex: String(script.index) } }),
      );
      details.open = state.openDetails.has(script.index);
      details.addEventListener("toggle", () => {
        if (details.open) {
          state.openDetails.add(script.index);
          subscribe("event", "Script", script.index, "logMessage");
          renderLog(details.querySelector("pre.log"), state.logs.get(script.index) || []);
        } else {
          state.openDetails.delete(script.index);
        }
      });
      if (details.open) renderLog(details.querySelector("pre.log"), state.logs.get(script.index) || []);
      list.append(el("li", { dataset: { index: String(script.index) } }, head, details));
    }
  }

  // Start.

  async function start() {
    let response;
    try {
      response = await fetch("/manager/api/panel/", { headers: headers() });
    } catch (e) {
      say("The panel's server cannot be reached", "bad");
      return;
    }
    if (response.status === 401) {
      askToken(state.token ? "The token was refused." : "");
      return;
    }
    const info = await response.json();
    state.salindex = info.salindex;
    state.maxConfigBytes = info.max_config_bytes;
    state.taiOffset = info.tai - Date.now() / 1000;
    document.title = `ScriptQueue ${info.salindex}`;
    $("title").textContent = `ScriptQueue ${info.salindex}` + (info.salindex === 1 ? " (MTQueue)" : info.salindex === 2 ? " (ATQueue)" : "");
    renderQueueState();
    renderGutter();
    connect();
  }

  start();
})();
