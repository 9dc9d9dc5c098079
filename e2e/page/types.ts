/** Types shared by the page harness (browser) and the specs (Node). */

export type MessageSummary =
  | { kind: 'pending' }
  | { kind: 'text'; text: string; size: number }
  | { kind: 'arraybuffer' | 'blob'; size: number; sha256: string }
  | { kind: 'other'; type: string };

export type LoggedEvent =
  | { type: 'open'; protocol: string; extensions: string; readyState: number }
  | { type: 'message'; summary: MessageSummary }
  | { type: 'error'; readyState: number }
  | { type: 'close'; code: number; reason: string; wasClean: boolean; readyState: number };

export type EventType = LoggedEvent['type'];

export interface SocketState {
  readyState: number;
  bufferedAmount: number;
  protocol: string;
  extensions: string;
  binaryType: BinaryType;
  url: string;
}

export interface UpdateStats {
  sent: number;
  skipped: number;
  done: boolean;
}

export interface Harness {
  /** Opens a new WebSocket (forgetting the previous one's events). */
  open(url: string, protocols?: string | string[], binaryType?: BinaryType): void;
  /** Events so far, in dispatch order. */
  events(): LoggedEvent[];
  types(): EventType[];
  /** Resolves with the `count`-th event of `type` (messages: once every summary settled). */
  waitFor(type: EventType, count?: number): Promise<LoggedEvent>;
  /** The first `count` message summaries, in order. */
  messages(count: number): Promise<MessageSummary[]>;
  state(): SocketState;
  /** Sends text; returns `bufferedAmount` right after the call. */
  sendText(text: string): number;
  /**
   * Sends `size` bytes of the shared pattern as an ArrayBuffer, a view or a Blob;
   * returns `bufferedAmount` right after the call and the bytes' SHA-256.
   */
  sendPattern(
    size: number,
    seed: number,
    as?: 'arraybuffer' | 'view' | 'blob',
  ): Promise<{ bufferedAmount: number; sha256: string }>;
  close(code?: number, reason?: string): void;
  /**
   * The textbook loop: every `intervalMs`, send `{"seq":n,"pad":"xxx…"}` only
   * while `bufferedAmount === 0`, until `total` were sent. Progress is in
   * `window.updateStats`.
   */
  startUpdates(intervalMs: number, total: number, padding?: number): void;
}

declare global {
  interface Window {
    harness: Harness;
    updateStats?: UpdateStats;
  }
}
