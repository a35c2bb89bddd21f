// The emoji mirror page: camera (or a dropped video/photo) -> JPEG over one WebSocket -> faces drawn back.
// One frame in flight at a time: the next frame is sent only when the answer to the last one is back,
// so a slow server lowers the frame rate instead of building a queue.
"use strict";

const $ = (id) => document.getElementById(id);
const video = $("video"), view = $("view"), viewCtx = view.getContext("2d");
// three frames at most: the one being read, the one ready to send, the one being encoded
const canvases = [0, 1, 2].map(() => document.createElement("canvas"));
const MAX_FRAME_SIDE = 640, MAX_PHOTO_SIDE = 1280;
const FRAME = 70, PHOTO = 80; // "F", "P"

// What the page saw, for people reading the console and for the browser tests.
const mirror = window.mirror = {session: null, answers: [], rtts: [], errors: [], closes: [], labels: [], drawn: null};

let ws = null, waiting = false, sentAt = 0, pendingPhoto = null, faces = [];
let fresh = false, encoding = false, ready = null, inFlight = null; // camera frames: see pump()
let liveShown = false; // the view shows the video (not a photo)
let capturing = null; // the track whose neutral reference is being taken
let mesh = null; // while the Why toggle is on: the regions and the mesh's edges in each

function status(text) {
  $("status").textContent = text;
  $("status").title = text; // the line is cut when long: the whole of it on hover
}

// Where the faces are read: the server that sent this page, which is this computer unless it serves others.
const LOOPBACK = ["localhost", "127.0.0.1", "[::1]"];
if (!LOOPBACK.includes(location.hostname)) $("where").textContent = `by the server at ${location.host}`;

function notice(text, retry = false) {
  $("notice").hidden = !text;
  $("notice-text").textContent = text;
  $("retry").hidden = !retry;
}

function showError(text) {
  mirror.errors.push(text);
  $("error").textContent = text;
  $("error").hidden = false;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { $("error").hidden = true; }, 6000);
}

function connect() {
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
  ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onmessage = (event) => answer(JSON.parse(event.data));
  ws.onclose = (event) => {
    mirror.closes.push({code: event.code, reason: event.reason});
    if (event.code !== 1000 && event.code !== 1001) {
      showError(`connection closed (${event.code}${event.reason ? ": " + event.reason : ""}); reconnecting`);
    }
    status("disconnected");
    waiting = false;
    setTimeout(connect, 1000);
  };
}

function answer(msg) {
  if (msg.type === "hello") {
    mirror.session = msg.session;
    fillBundles(msg.bundles, msg.bundle);
    mirror.labels = msg.labels;
    neutralButton(msg.neutral);
    if ($("explain").checked) ws.send(JSON.stringify({type: "explain", on: true})); // a new tab starts without
    status(`connected (tab ${msg.session})`);
    pump();
  } else if (msg.type === "faces") {
    const rtt = performance.now() - sentAt;
    waiting = false;
    if (msg.notice) {
      capturing = null;
      status(msg.notice);
    }
    neutralTaken(msg.faces);
    if (msg.kind === "frame") mirror.rtts.push(rtt);
    mirror.answers.push({kind: msg.kind, t: performance.now(), rtt, ms: msg.ms,
                         encode: msg.kind === "frame" ? inFlight.encodeMs : 0,
                         age: msg.kind === "frame" ? performance.now() - inFlight.started : 0,
                         faces: msg.faces.map((f) => ({id: f.id, label: f.label, confidence: f.confidence,
                                                       calibration: f.calibration, box: f.box,
                                                       words: f.explanation ? f.explanation.words : null}))});
    if (mirror.answers.length > 5000) mirror.answers.splice(0, 1000);
    if (mirror.rtts.length > 5000) mirror.rtts.splice(0, 1000);
    if (msg.kind === "photo" || liveShown) draw(msg);
    pump();
  } else if (msg.type === "bundle") {
    mirror.labels = msg.labels;
    neutralButton(msg.neutral);
    if (!msg.explain) explainShown(null);
    $("bundle").value = msg.id;
    status(`model ${msg.id}`);
  } else if (msg.type === "explain") {
    explainShown(msg.on ? msg : null);
  } else if (msg.type === "neutral") {
    capturing = msg.track;
    status(msg.message || "neutral reference set");
  } else if (msg.type === "error") {
    if (!mesh) $("explain").checked = false; // the toggle was refused (a model without a neutral reference)
    waiting = false;
    showError(msg.message);
    pump();
  }
}

// The capture's "hold a neutral face" line is replaced once that face is calibrated, and then cleared.
function neutralTaken(list) {
  if (capturing === null || !list.some((f) => f.id === capturing && f.calibration === "captured")) return;
  const text = `face ${capturing}: neutral reference taken; its expressions are now read relative to it`;
  capturing = null;
  status(text);
  setTimeout(() => { if ($("status").textContent === text) status(""); }, 5000);
}

function explainShown(shown) {
  mesh = shown;
  $("explain").checked = !!shown;
}

function neutralButton(available) {
  $("neutral").disabled = !available;
  $("neutral").title = available ? "This is my neutral face: about a second of the largest face becomes its reference"
                                 : "This model has no neutral reference to calibrate with (or calibration is off)";
}

function fillBundles(bundles, current) {
  const select = $("bundle");
  select.replaceChildren(...bundles.map((b) => new Option(`${b.id} (${b.kind})`, b.id)));
  select.title = "Base or personal bundles the server found; " +
                 bundles.map((b) => `${b.id}: ${b.labels.join(", ")}`).join("; ");
  select.value = current;
}

// --- sending ---------------------------------------------------------------------------------

function fit(width, height, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(width, height));
  return [Math.round(width * scale), Math.round(height * scale)];
}

function send(kind, blob) {
  waiting = true;
  sentAt = performance.now();
  ws.send(new Blob([new Uint8Array([kind]), blob]));
}

// At most one frame in flight and one encoded, ready to go: the newest camera frame is encoded while the
// last one is being read, and sent the moment its answer is back. Older frames are dropped, never queued.
function pump() {
  if (waiting || !ws || ws.readyState !== WebSocket.OPEN) return;
  if (pendingPhoto) {
    const photo = pendingPhoto;
    pendingPhoto = null;
    send(PHOTO, photo);
  } else if (ready && liveShown) {
    inFlight = ready;
    ready = null;
    send(FRAME, inFlight.blob);
  }
}

async function encode() {
  if (encoding || !fresh || !liveShown || !video.videoWidth) return;
  fresh = false;
  encoding = true;
  const started = performance.now();
  const canvas = canvases.find((c) => c !== inFlight?.canvas && c !== ready?.canvas);
  [canvas.width, canvas.height] = fit(video.videoWidth, video.videoHeight, MAX_FRAME_SIDE);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  const mirrored = Boolean(video.srcObject); // the camera is shown as a mirror shows you; a video file as it is
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.8));
  encoding = false;
  ready = {canvas, blob, started, mirrored, encodeMs: performance.now() - started};
  pump();
  encode(); // a newer frame came while this one was encoded
}

function onVideoFrame() {
  fresh = true;
  encode();
  video.requestVideoFrameCallback(onVideoFrame);
}

function playLive() {
  liveShown = true;
  video.play().catch(() => {});
  video.requestVideoFrameCallback(onVideoFrame);
}

const OR_DROP = "Or drop a photo or a video file on this picture.";
const CAMERA_BLOCKED = "The camera is blocked for this page. Allow it (the camera icon in the address bar), then " +
                       "try again.";
const CAMERA_TROUBLE = {
  NotAllowedError: CAMERA_BLOCKED,
  SecurityError: CAMERA_BLOCKED,
  NotFoundError: "No camera was found. Connect one, then try again.",
  OverconstrainedError: "No camera was found that can film 640×480. Connect another one, then try again.",
  NotReadableError: "The camera is busy: another program is using it. Close that program, then try again.",
  AbortError: "The camera did not start. Try again, or restart the browser.",
};

// The camera, or a message that says what is wrong in words, what to do, and the way to do without it.
async function startCamera() {
  notice("Waiting for the camera: allow it when the browser asks.");
  try {
    if (!navigator.mediaDevices) {
      throw new DOMException("cameras are for secure pages only", "InsecureContext");
    }
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}, audio: false});
  } catch (err) {
    const text = err.name === "InsecureContext"
      ? `This browser gives the camera only to secure pages: open http://127.0.0.1:${location.port}/ on the ` +
        "computer that runs the server."
      : CAMERA_TROUBLE[err.name] || `The camera could not be opened (${err.name}). Try again.`;
    notice(`${text} ${OR_DROP}`, err.name !== "InsecureContext");
    $("notice").title = `${err.name}: ${err.message}`;
    mirror.errors.push(`camera: ${err.name}`);
    return;
  }
  notice("");
  video.removeAttribute("src");
  $("camera").hidden = true;
  playLive();
}

// --- drawing ---------------------------------------------------------------------------------

// The picture and each face's box and label; the camera mirrored (the boxes with it, the text left readable).
function draw(msg) {
  const source = msg.kind === "photo" ? draw.photo : inFlight.canvas;
  const mirrored = msg.kind === "frame" && inFlight.mirrored;
  if (view.width !== source.width || view.height !== source.height) {
    view.width = source.width;
    view.height = source.height;
  }
  viewCtx.save();
  if (mirrored) viewCtx.setTransform(-1, 0, 0, 1, view.width, 0);
  viewCtx.drawImage(source, 0, 0);
  viewCtx.restore();
  const sx = view.width / msg.width, sy = view.height / msg.height;
  viewCtx.lineWidth = 3;
  viewCtx.font = "bold 18px system-ui, sans-serif";
  mirror.drawn = {mirrored, width: view.width, scale: sx, read: msg.faces.map((f) => f.box), boxes: [], labels: []};
  const toX = mirrored ? (px) => view.width - px * sx : (px) => px * sx;
  for (const face of msg.faces) {
    const [x, y, w, h] = face.box;
    const left = Math.min(toX(x), toX(x + w)); // a mirrored box's left edge is its right one turned over
    mirror.drawn.boxes.push([left, y * sy, w * sx, h * sy]);
    if (face.explanation && mesh) {
      drawWhy(face, toX, sy);
    } else {
      viewCtx.strokeStyle = face.label === "uncertain" ? "#aaa" : "#6cf";
      viewCtx.strokeRect(left, y * sy, w * sx, h * sy);
    }
  }
  // the labels over every box, each where it covers no other (faces side by side), as the demo places them
  msg.faces.forEach((face, i) => {
    const [left, top, width, height] = mirror.drawn.boxes[i];
    const text = [face.emoji, face.label, confidenceText(face)].filter(Boolean).join(" ");
    const w = viewCtx.measureText(text).width + 8;
    const x = Math.max(0, Math.min(left, view.width - w)); // inside the picture, moved left whole at its edge
    const above = Math.max(3, top - 25); // just above the box, inside the picture
    const free = (y) => !mirror.drawn.labels.some(([lx, ly, lw, lh]) =>
      x < lx + lw && lx < x + w && y < ly + lh && ly < y + 24);
    const spots = [above, above - 26, above - 52, top + height + 4]; // a row higher, two, below the face
    const y = spots.find((t) => t >= 0 && t + 24 <= view.height && free(t)) ?? above;
    mirror.drawn.labels.push([x, y, w, 24]);
    viewCtx.fillStyle = "rgba(0,0,0,.6)";
    viewCtx.fillRect(x, y, w, 24);
    viewCtx.fillStyle = "#fff";
    viewCtx.fillText(text, x + 4, y + 19);
  });
  faces = msg.faces;
  $("copy").disabled = faces.length === 0;
  listFaces(msg.faces);
}

// As the demo draws it (apps/overlay.py): grey where a region did not move the reading, warm where its change
// from neutral raised the label, cool where it lowered it; full colour for the region that moved it most.
const UNMOVED = [110, 110, 110], RAISED = [255, 80, 40], LOWERED = [40, 160, 255], LEAST_SCALE = 0.05;

function regionColour(effect, scale) {
  const share = Math.min(Math.abs(effect) / scale, 1), target = effect > 0 ? RAISED : LOWERED;
  return `rgb(${UNMOVED.map((grey, i) => Math.round(grey + (target[i] - grey) * share)).join(",")})`;
}

function drawWhy(face, toX, sy) { // toX: a point's x in the picture (mirrored for the camera)
  const regions = face.explanation.regions;
  const scale = Math.max(LEAST_SCALE, ...Object.values(regions).map(Math.abs));
  viewCtx.save();
  mesh.regions.forEach((region, r) => {
    viewCtx.strokeStyle = regionColour(regions[region], scale);
    viewCtx.lineWidth = Math.abs(regions[region]) >= scale / 2 ? 2 : 1;
    viewCtx.beginPath();
    for (const [a, b] of mesh.edges[r]) {
      viewCtx.moveTo(toX(face.points[a][0]), face.points[a][1] * sy);
      viewCtx.lineTo(toX(face.points[b][0]), face.points[b][1] * sy);
    }
    viewCtx.stroke();
  });
  viewCtx.restore();
}

function whyText(explanation) {
  const raised = Object.entries(explanation.regions).filter(([, effect]) => effect >= 0.01).slice(0, 2);
  const words = explanation.words.join(", ") || "no clear movement from neutral";
  return raised.length ? `${words}. ${explanation.label}: ` +
                         raised.map(([region, effect]) => `${region} +${(100 * effect).toFixed(0)}%`).join(", ")
                       : words;
}

// How each face is read (its "calibration"), in words, and why on hover.
const CALIBRATION = {
  estimating: ["learning this face…",
               "Learning this face's usual look from its first seconds; expressions are read relative to it. For a " +
               "sharper reading, look neutral and press This is my neutral face."],
  auto: ["adapting to this face",
         "Read relative to this face's usual look, learnt from its frames so far. For a sharper reading, look " +
         "neutral and press This is my neutral face."],
  none: ["not calibrated yet", "Look neutral and press This is my neutral face: expressions are then read " +
                               "relative to it."],
  capturing: ["hold a neutral face…", "Taking about a second of this face as its neutral reference."],
  captured: ["calibrated to this face's neutral", "Read relative to the neutral face you gave with the button."],
  personal: ["calibrated (your personal model)", "Read relative to the neutral face recorded for this model."],
};
const cards = new Map(); // (track, labels) -> the face's card, updated in place: rebuilding it cost ~2 ms a frame

function card(face) {
  const key = `${face.id}:${Object.keys(face.probs).join(",")}`;
  if (!cards.has(key)) {
    const item = document.createElement("li");
    item.className = "face";
    item.innerHTML = '<div class="head"><span class="emoji"></span><span class="label"></span>' +
                     '<span class="confidence"></span><span class="calibration"></span></div>';
    for (const name of Object.keys(face.probs)) {
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.innerHTML = '<span></span><span class="track"><span class="fill"></span></span><span></span>';
      bar.children[0].textContent = name;
      item.append(bar);
    }
    item.append(Object.assign(document.createElement("p"), {className: "why", hidden: true}));
    cards.set(key, item);
  }
  return cards.get(key);
}

// A face's confidence as shown on the picture and in its card: none for a face it cannot read (no % it cannot back).
function confidenceText(face) {
  return face.unreadable ? "" : `${(100 * face.confidence).toFixed(0)}%`;
}

function listFaces(list) {
  const shown = list.map((face) => {
    const item = card(face);
    item.dataset.track = face.id;
    item.dataset.label = face.label;
    item.querySelector(".emoji").textContent = face.emoji;
    item.querySelector(".label").textContent = face.label;
    item.querySelector(".confidence").textContent = confidenceText(face);
    const [calibration, because] = CALIBRATION[face.calibration] || ["", ""];
    item.querySelector(".calibration").textContent =  // why it cannot be read, and how it is read
      [face.unreadable, calibration].filter(Boolean).join(" · ");
    item.querySelector(".calibration").title = because;
    const probs = Object.values(face.probs), top = Math.max(...probs);
    item.querySelectorAll(".bar").forEach((bar, i) => {
      bar.classList.toggle("top", probs[i] === top);
      bar.querySelector(".fill").style.width = `${(100 * probs[i]).toFixed(1)}%`;
      bar.children[2].textContent = `${(100 * probs[i]).toFixed(0)}%`;
    });
    const why = item.querySelector(".why");
    why.hidden = !face.explanation;
    if (face.explanation) why.textContent = whyText(face.explanation);
    return item;
  });
  const container = $("faces");
  if (shown.length !== container.children.length || shown.some((item, i) => container.children[i] !== item)) {
    container.replaceChildren(...shown);
  }
  $("empty").hidden = shown.length > 0;
  for (const [key, item] of cards) if (!shown.includes(item)) cards.delete(key);
}

setInterval(() => {
  const now = performance.now();
  const recent = mirror.answers.filter((a) => a.kind === "frame" && now - a.t < 1000);
  const rtt = recent.length ? recent.reduce((s, a) => s + a.rtt, 0) / recent.length : 0;
  $("rate").textContent = recent.length ? `${recent.length} frames/s, ${rtt.toFixed(0)} ms round trip` : "";
}, 500);

// --- buttons and dropping --------------------------------------------------------------------

$("bundle").onchange = () => ws.send(JSON.stringify({type: "bundle", id: $("bundle").value}));
$("neutral").onclick = () => ws.send(JSON.stringify({type: "neutral"}));
$("explain").onchange = () => ws.send(JSON.stringify({type: "explain", on: $("explain").checked}));
$("camera").onclick = startCamera;
$("retry").onclick = startCamera;
$("copy").onclick = async () => {
  const face = faces.reduce((a, b) => (!a || b.box[2] * b.box[3] > a.box[2] * a.box[3] ? b : a), null);
  if (!face) return;
  try {
    await navigator.clipboard.writeText(face.emoji);
    status(`copied ${face.emoji}`);
  } catch (err) {
    showError(`the browser refused the clipboard (${err.name}); the emoji is ${face.emoji}`);
  }
};

async function readPhoto(file) {
  const bitmap = await createImageBitmap(file);
  notice("");
  const canvas = draw.photo = document.createElement("canvas");
  [canvas.width, canvas.height] = fit(bitmap.width, bitmap.height, MAX_PHOTO_SIDE);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  liveShown = false;
  ready = null;
  video.pause();
  $("camera").hidden = false;
  pendingPhoto = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  pump();
}

function readVideo(file) {
  notice("");
  if (video.srcObject) video.srcObject.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  video.src = URL.createObjectURL(file);
  video.loop = true;
  $("camera").hidden = false;
  playLive();
}

async function dropped(file) {
  try {
    if (file.type.startsWith("video/")) readVideo(file);
    else if (file.type.startsWith("image/")) await readPhoto(file);
    else showError(`${file.name}: drop a photo or a video file`);
  } catch (err) {
    showError(`${file.name} cannot be read here (${err.name})`);
  }
}

video.onerror = () => showError("this browser cannot play that video; try an .mp4 (H.264) or .webm file");

document.addEventListener("dragover", (event) => { event.preventDefault(); $("stage").classList.add("dragging"); });
document.addEventListener("dragleave", () => $("stage").classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  $("stage").classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) dropped(file);
});

connect();
startCamera();
