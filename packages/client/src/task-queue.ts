/**
 * The WebSocket task source: events run one per macrotask, in order.
 * @packageDocumentation
 */

/** A queued task and its argument (no closure per message). */
interface Task {
  readonly run: (value: never) => void;
  readonly value: unknown;
}

/**
 * Runs queued tasks one per `setImmediate` turn, oldest first. The spec
 * queues a task for each event (open, each message, error, close), so
 * listeners of one event run, and their promise callbacks settle, before the
 * next event is dispatched, even when many frames arrived in one chunk.
 * Node runs the microtask queue between two immediates.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#queue-a-task
 */
export class TaskQueue {
  #tasks: Task[] = [];
  #head = 0;
  #scheduled = false;

  /** Queues `run(value)` behind every task already queued. */
  queue<T>(run: (value: T) => void, value: T): void {
    this.#tasks.push({ run: run as (value: never) => void, value });
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#runNext);
    }
  }

  /** Runs the oldest task; schedules the next turn while tasks remain. */
  readonly #runNext = (): void => {
    const task = this.#tasks[this.#head]!;
    this.#tasks[this.#head++] = undefined as unknown as Task;
    if (this.#head === this.#tasks.length) {
      this.#tasks = [];
      this.#head = 0;
    }
    try {
      task.run(task.value as never);
    } finally {
      if (this.#tasks.length > 0) setImmediate(this.#runNext);
      else this.#scheduled = false;
    }
  };
}
