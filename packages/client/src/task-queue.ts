/**
 * The WebSocket task source: events run one per macrotask, in order.
 * @packageDocumentation
 */

/**
 * A task's steps, called on the queue's owner with their argument: a method
 * shared by every owner, so no closure per message or per connection.
 */
type TaskSteps<Owner> = (this: Owner, value: never) => void;

/**
 * False from the end of a task until the microtask checkpoint after it; shared
 * by every WebSocket, as the event loop is.
 */
let settled = true;
const markSettled = (): void => {
  settled = true;
};
/** `then` on a settled promise: the cheapest microtask (`queueMicrotask` makes an AsyncResource). */
const resolved = Promise.resolve();

/**
 * Runs queued tasks one per `setImmediate` callback, oldest first. The spec
 * queues a task for each event (open, each message, error, close), so
 * listeners of one event run, and their promise callbacks settle, before the
 * next event is dispatched, even when many frames arrived in one chunk: Node
 * runs the microtask queue between two immediates.
 *
 * Each task gets its Immediate when it is queued, not when the one before it
 * has run. Immediates run in the order they were created, so the order of
 * tasks is kept; and all the events one socket read delivered run in the same
 * check phase of the event loop, instead of one per loop iteration, which lets
 * the sends they trigger leave in one write (see {@link TaskQueue.afterQueued}).
 *
 * Node skips that microtask checkpoint once: when a listener threw, Node's
 * EventTarget rethrows from `process.nextTick`, which aborts the check phase
 * between two immediates, and Node runs the remaining ones at once. A task
 * that finds the previous one's microtasks not yet run (the `settled` flag,
 * set by a microtask queued after each task) gives its turn to a new
 * Immediate; every Immediate runs the oldest task, so the order holds.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#queue-a-task
 */
export class TaskQueue<Owner extends object> {
  /** What the steps run on (`this` in them). */
  readonly #owner: Owner;
  /** The queued tasks' steps and arguments, side by side (no object per task). */
  readonly #steps: TaskSteps<Owner>[] = [];
  readonly #values: unknown[] = [];
  #head = 0;
  /** How many tasks were ever queued. */
  #queued = 0;
  /** How many tasks have run (or started running). */
  #ran = 0;
  /** Called once `#ran` reaches `#afterMark`. */
  #after: (() => void) | undefined;
  #afterMark = 0;

  /** @param owner - What every task's steps are called on. */
  constructor(owner: Owner) {
    this.#owner = owner;
  }

  /** Queues `run.call(owner, value)` behind every task already queued. */
  queue<T>(run: (this: Owner, value: T) => void, value: T): void {
    this.#steps.push(run as TaskSteps<Owner>);
    this.#values.push(value);
    this.#queued++;
    setImmediate(this.#runNext);
  }

  /**
   * Calls `callback` right after every task queued so far has run (in the
   * Immediate of the last of them, before its microtasks), and returns true;
   * returns false, and never calls it, when no task is waiting. One callback
   * at a time: a second call replaces the first.
   */
  afterQueued(callback: () => void): boolean {
    if (this.#ran === this.#queued) return false;
    this.#after = callback;
    this.#afterMark = this.#queued;
    return true;
  }

  /** Runs the oldest task: each Immediate runs one. */
  readonly #runNext = (): void => {
    if (!settled) {
      setImmediate(this.#runNext);
      return;
    }
    const head = this.#head;
    const run = this.#steps[head]!;
    const value = this.#values[head];
    if (head + 1 === this.#steps.length) {
      this.#steps.length = 0;
      this.#values.length = 0;
      this.#head = 0;
    } else {
      this.#steps[head] = undefined as unknown as TaskSteps<Owner>;
      this.#values[head] = undefined;
      this.#head = head + 1;
    }
    this.#ran++;
    try {
      run.call(this.#owner, value as never);
    } finally {
      settled = false;
      void resolved.then(markSettled);
      if (this.#after !== undefined && this.#ran >= this.#afterMark) {
        const after = this.#after;
        this.#after = undefined;
        after();
      }
    }
  };
}
