// @ts-check
/* global document, location, requestAnimationFrame, window -- browser code (ESLint's globals here are Node's) */
// The page of the live demo, bundled by build.mjs into dist/page.js.
//
// It is the textbook's example made real: connect to /updates, then every
// 50 ms send this player's position, but only while socket.bufferedAmount is 0
// (nothing of the previous update is still waiting to go out). The server
// broadcasts the world 20 times a second; every player is drawn as a dot.
//
// The connection is a ReconnectingWebSocket with a resumable session
// (docs/session-protocol.md): when it drops, the page reconnects and resumes
// the session, and stays the same player (id, colour, position); with Redis
// behind the server, even across a restart of the server process.
//
// The position follows the mouse (or a finger) over the field. Until the
// pointer moves there, or always with ?auto=1, the dot moves by itself, so a
// page nobody touches (a screenshot, an automated test) still plays.
//
// Test hooks: window.liveState (see LiveState below) is read by the Playwright
// tests (e2e/tests/live*.spec.ts). It is updated in place; do not write to it.
// Each world state is also dispatched on window as a `liveworld` event.
import { ReconnectingWebSocket } from '@proj/client';

/** How often the page sends its position: the textbook's 50 ms. */
const SEND_MS = 50;
/** Reconnect delays: drawn from 0.5-1 s, 0.5-2 s, 0.5-4 s ... up to 0.5-10 s. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * @typedef {object} Player One entry of the world state.
 * @property {string} id
 * @property {string} color a CSS color
 * @property {number} x 0..1, left to right
 * @property {number} y 0..1, top to bottom
 * @property {number} seq the `seq` of the player's last move the server applied (0: none)
 * @property {number} t the `t` of that move (the sending page's clock)
 * @property {number} held ms the server held that move before this broadcast
 */

/**
 * @typedef {object} LiveState What the page knows, exposed as window.liveState for tests.
 * @property {'connecting' | 'open' | 'closed'} status
 * @property {string | null} id this page's player id (from `welcome`), null before
 * @property {string | null} color this page's color
 * @property {Map<string, Player>} players the last world state, by id (this page included)
 * @property {number} count players connected, as the server counts them
 * @property {number | null} rtt round-trip time in ms (smoothed), null until measured
 * @property {number} received messages received, in total
 * @property {number} sent moves sent, in total
 * @property {number} held ticks whose move was not sent because bufferedAmount was not 0
 * @property {number} receivedPerSecond messages received in the last second
 * @property {number} sentPerSecond moves sent in the last second
 * @property {number} connections how many times the socket opened (1 + reconnects)
 * @property {boolean} session the connection carries a resumable session (false: a plain WebSocket)
 * @property {number} sessionsLost sessions the server could not resume (each made this page a new player)
 * @property {'auto' | 'pointer'} mode what moves this page's dot
 * @property {{ x: number, y: number }} position this page's position, 0..1
 */

const params = new URLSearchParams(location.search);
const forceAuto = params.get('auto') === '1';

/** @type {LiveState} */
const state = {
  status: 'connecting',
  id: null,
  color: null,
  players: new Map(),
  count: 0,
  rtt: null,
  received: 0,
  sent: 0,
  held: 0,
  receivedPerSecond: 0,
  sentPerSecond: 0,
  connections: 0,
  session: false,
  sessionsLost: 0,
  mode: 'auto',
  position: { x: 0.5, y: 0.5 },
};
Object.defineProperty(window, 'liveState', { value: state, enumerable: true });

// ---------------------------------------------------------------------------
// The connection.

const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/updates`;
/** The demo's subprotocol (apps/live/README.md, "The protocol"). */
const LIVE_PROTOCOL = 'live.v1';
let lastRttSeq = 0;
/** Moves are numbered over the page's life, so the server's "newest wins" holds across connections. */
let seq = 0;

// One object for the page's life: it reconnects by itself (with backoff and
// jitter, so that many pages do not return at once), and with `session` the
// server's messages and ours arrive exactly once, in order, across drops.
// The page offers its own subprotocol too: a server without sessions selects
// it, and the page works there as a plain WebSocket. (Offering the session's
// alone, such a server would select none, and browsers must then fail the
// handshake: docs/session-protocol.md, section 1.)
const socket = new ReconnectingWebSocket(url, [LIVE_PROTOCOL], {
  session: true,
  minDelay: RETRY_FIRST_MS,
  maxDelay: RETRY_MAX_MS,
});

socket.addEventListener('open', () => {
  state.status = 'open';
  state.connections++;
  state.session = socket.sessionId !== null;
  // Where we are, at once: a server this session just moved to (a restarted
  // one) shows us from this move on, rather than after the next tick.
  sendUpdate();
});

socket.addEventListener('message', (event) => {
  state.received++;
  receivedThisSecond++;
  if (typeof event.data !== 'string') return;
  const message = JSON.parse(event.data);
  if (message.type === 'welcome') onWelcome(message);
  else if (message.type === 'world') onWorld(message);
});

socket.addEventListener('close', (event) => {
  state.status = 'closed';
  state.players = new Map();
  state.count = 0;
  state.rtt = null;
  trails.clear();
  closeReason = CLOSE_REASONS[event.code] ?? `closed (${event.code})`;
  // CLOSED: the end (the server ended the session, or refused us for good).
  if (socket.readyState === ReconnectingWebSocket.CLOSED) retryAt = null;
});

socket.addEventListener('reconnecting', (event) => {
  retryAt = performance.now() + event.delay;
});

// The server could not resume the session (it expired, or the server
// restarted without a store): a new session, and a new player, follows.
socket.addEventListener('sessionlost', () => {
  state.sessionsLost++;
  state.id = null;
  state.color = null;
});

// The textbook loop: every 50 ms, send an update only if everything sent
// before has left the browser. On a slow or stalled connection updates are
// skipped instead of queueing up, so what goes out next is always fresh. While
// disconnected, bufferedAmount counts every move the server has not
// acknowledged: one move at most waits for the next connection, and it is
// the first thing the server gets when the session resumes.
setInterval(() => {
  if (state.id === null || socket.readyState > ReconnectingWebSocket.OPEN) return;
  if (socket.bufferedAmount === 0) sendUpdate();
  else state.held++;
}, SEND_MS);

function sendUpdate() {
  if (state.id === null) return;
  socket.send(getUpdateData());
  state.sent++;
  sentThisSecond++;
}

/** What the page says when the connection closed, by close code. */
/** @type {Record<number, string>} */
const CLOSE_REASONS = {
  1001: 'server went away',
  1006: 'connection lost',
  1012: 'server restarting',
  1013: 'server full',
};

/** The textbook's getUpdateData(): this player's position, numbered and timed. */
function getUpdateData() {
  const { x, y } = currentPosition();
  return JSON.stringify({ type: 'move', x, y, seq: ++seq, t: performance.now() });
}

/** A new player: once per session (or per connection, on a server without sessions). */
/** @param {{ id: string, color: string, x: number, y: number }} message */
function onWelcome(message) {
  state.id = message.id;
  state.color = message.color;
  if (state.mode === 'pointer') return;
  autoOrigin = { x: message.x, y: message.y };
  autoStart = performance.now();
}

/** @param {{ players: Player[], count: number }} message */
function onWorld(message) {
  window.dispatchEvent(new CustomEvent('liveworld', { detail: message }));
  state.players = new Map(message.players.map((player) => [player.id, player]));
  extendTrails(message.players);
  state.count = message.count;
  const own = state.id === null ? undefined : state.players.get(state.id);
  // Our entry echoes the `t` of our last move that reached the server, and how
  // long the server held it before this broadcast. Take each move once.
  if (own && own.seq > lastRttSeq) {
    lastRttSeq = own.seq;
    const sample = Math.max(0, performance.now() - own.t - own.held);
    state.rtt = state.rtt === null ? sample : state.rtt * 0.8 + sample * 0.2;
  }
}

// ---------------------------------------------------------------------------
// Where this player is: the pointer, or a gentle automatic path.

const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('field'));
let autoOrigin = { x: 0.5, y: 0.5 };
let autoStart = performance.now();

/** @param {PointerEvent} event */
function onPointer(event) {
  if (forceAuto) return;
  const box = canvas.getBoundingClientRect();
  state.mode = 'pointer';
  state.position = {
    x: round(clamp((event.clientX - box.left) / box.width, 0, 1)),
    y: round(clamp((event.clientY - box.top) / box.height, 0, 1)),
  };
}
canvas.addEventListener('pointermove', onPointer);
canvas.addEventListener('pointerdown', onPointer);

function currentPosition() {
  if (state.mode === 'auto') {
    // A slow loop around the point the server gave us, different for every
    // player, never closer than 5% to an edge.
    let phase = 0;
    for (const digit of state.id ?? '') phase += digit.charCodeAt(0) * 2.1;
    const seconds = (performance.now() - autoStart) / 1000;
    const cx = clamp(autoOrigin.x, 0.27, 0.73);
    const cy = clamp(autoOrigin.y, 0.25, 0.75);
    state.position = {
      x: round(cx + 0.22 * Math.sin(seconds * 0.9 + phase)),
      y: round(cy + 0.18 * Math.sin(seconds * 1.4 + phase)),
    };
  }
  return state.position;
}

/** @param {number} value @param {number} min @param {number} max */
function clamp(value, min, max) {
  return Math.min(max, Math.max(min, value));
}

/** @param {number} value */
function round(value) {
  return Math.round(value * 1000) / 1000;
}

// ---------------------------------------------------------------------------
// Drawing, and the numbers beside it.

const context = /** @type {CanvasRenderingContext2D} */ (canvas.getContext('2d'));
/** Where each dot is drawn: eased toward the broadcast position between ticks. */
/** @type {Map<string, { x: number, y: number }>} */
const shown = new Map();
/** The last second and a half of broadcast positions of each player, oldest first. */
/** @type {Map<string, Array<{ x: number, y: number }>>} */
const trails = new Map();
const TRAIL_LENGTH = 30;

/** @param {Player[]} players */
function extendTrails(players) {
  for (const id of trails.keys()) if (!players.some((p) => p.id === id)) trails.delete(id);
  for (const { id, x, y } of players) {
    const trail = trails.get(id) ?? [];
    trail.push({ x, y });
    if (trail.length > TRAIL_LENGTH) trail.shift();
    trails.set(id, trail);
  }
}

function draw() {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
  }
  context.setTransform(ratio, 0, 0, ratio, 0, 0);
  context.clearRect(0, 0, width, height);

  // A light grid, one line every tenth of the field.
  context.strokeStyle = '#e5e9f0';
  context.lineWidth = 1;
  context.beginPath();
  for (let i = 1; i < 10; i++) {
    const gx = Math.round((width * i) / 10) + 0.5;
    const gy = Math.round((height * i) / 10) + 0.5;
    context.moveTo(gx, 0);
    context.lineTo(gx, height);
    context.moveTo(0, gy);
    context.lineTo(width, gy);
  }
  context.stroke();

  for (const id of shown.keys()) if (!state.players.has(id)) shown.delete(id);
  context.font = '600 12px system-ui, sans-serif';
  context.textAlign = 'center';
  for (const player of state.players.values()) {
    if (player.id === state.id) continue;
    const dot = ease(player);
    drawTrail(player.id, dot, player.color, width, height);
    drawDot(dot.x * width, dot.y * height, player.color, `#${player.id}`, false, height);
  }
  // Our own dot last (on top), where we are now rather than where the server
  // last saw us, and highlighted.
  if (state.id !== null && state.color !== null && state.status === 'open') {
    const here = currentPosition();
    drawTrail(state.id, here, state.color, width, height);
    drawDot(here.x * width, here.y * height, state.color, `you #${state.id}`, true, height);
  }

  if (state.status !== 'open') {
    context.fillStyle = 'rgba(255, 255, 255, 0.75)';
    context.fillRect(0, 0, width, height);
    context.fillStyle = '#334155';
    context.font = '600 15px system-ui, sans-serif';
    context.fillText(statusText(true), width / 2, height / 2);
  }
  requestAnimationFrame(draw);
}

/** @param {Player} player */
function ease(player) {
  const dot = shown.get(player.id);
  if (!dot) {
    const fresh = { x: player.x, y: player.y };
    shown.set(player.id, fresh);
    return fresh;
  }
  dot.x += (player.x - dot.x) * 0.3;
  dot.y += (player.y - dot.y) * 0.3;
  return dot;
}

/**
 * A fading line through the player's recent positions, ending at its dot.
 * @param {string} id
 * @param {{ x: number, y: number }} head where the dot is drawn
 * @param {string} color
 * @param {number} width
 * @param {number} height
 */
function drawTrail(id, head, color, width, height) {
  const points = [...(trails.get(id) ?? []), head];
  context.lineWidth = 3;
  context.lineCap = 'butt';
  context.strokeStyle = color;
  for (let i = 1; i < points.length; i++) {
    const from = /** @type {{ x: number, y: number }} */ (points[i - 1]);
    const to = /** @type {{ x: number, y: number }} */ (points[i]);
    context.globalAlpha = (0.6 * i) / points.length;
    context.beginPath();
    context.moveTo(from.x * width, from.y * height);
    context.lineTo(to.x * width, to.y * height);
    context.stroke();
  }
  context.globalAlpha = 1;
}

/**
 * @param {number} x
 * @param {number} y
 * @param {string} color
 * @param {string} label
 * @param {boolean} own
 * @param {number} height the field's, to keep the label inside it
 */
function drawDot(x, y, color, label, own, height) {
  const radius = own ? 11 : 9;
  if (own) {
    context.beginPath();
    context.arc(x, y, radius + 7, 0, Math.PI * 2);
    context.fillStyle = 'rgba(15, 23, 42, 0.08)';
    context.fill();
  }
  context.beginPath();
  context.arc(x, y, radius, 0, Math.PI * 2);
  context.fillStyle = color;
  context.fill();
  context.lineWidth = own ? 3 : 2;
  context.strokeStyle = own ? '#0f172a' : '#ffffff';
  context.stroke();
  context.fillStyle = own ? '#0f172a' : '#475569';
  const below = y + radius + 16;
  context.fillText(label, x, below < height - 6 ? below : y - radius - 8);
}

let receivedThisSecond = 0;
let sentThisSecond = 0;
/** When the next attempt starts (performance.now()), null when none will. */
/** @type {number | null} */
let retryAt = 0;
let closeReason = '';

/** @param {boolean} [long] with the reason the connection closed */
function statusText(long = false) {
  if (state.status === 'open') return 'connected';
  if (state.status === 'connecting') return 'connecting…';
  if (retryAt === null) return long ? `${closeReason}: not reconnecting` : closeReason;
  const seconds = Math.max(0, Math.ceil((retryAt - performance.now()) / 1000));
  return `${long ? `${closeReason}: ` : ''}reconnecting in ${seconds} s`;
}

/** @param {string} id @param {string} text */
function show(id, text) {
  const element = document.getElementById(id);
  if (element && element.textContent !== text) element.textContent = text;
}

function render() {
  show('status', statusText());
  document.body.dataset['status'] = state.status;
  show('you', state.id === null ? '–' : `#${state.id}`);
  const swatch = document.getElementById('swatch');
  if (swatch) swatch.style.background = state.color ?? 'transparent';
  show('count', state.status === 'open' ? String(state.count) : '–');
  show('rtt', state.rtt === null ? '–' : `${state.rtt.toFixed(1)} ms`);
  show('received-rate', `${state.receivedPerSecond}/s`);
  show('sent-rate', `${state.sentPerSecond}/s`);
  show('held', String(state.held));
  show(
    'mode',
    state.mode === 'auto' ? (forceAuto ? 'automatic (?auto=1)' : 'automatic') : 'pointer',
  );
}

setInterval(() => {
  state.receivedPerSecond = receivedThisSecond;
  state.sentPerSecond = sentThisSecond;
  receivedThisSecond = 0;
  sentThisSecond = 0;
}, 1000);
setInterval(render, 200);

render();
requestAnimationFrame(draw);
