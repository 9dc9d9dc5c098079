/**
 * Records items as they come (events, messages, closes) and waits, without
 * polling, for enough of them. Used by the server's and the CLI's tests.
 */
export class Collector<T> {
  readonly items: T[] = [];
  #waiters: Array<() => void> = [];

  push(item: T): void {
    this.items.push(item);
    for (const waiter of this.#waiters.splice(0)) waiter();
  }

  /** Resolves with the items once there are at least `count`. */
  async until(count: number): Promise<T[]> {
    while (this.items.length < count) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    return this.items;
  }
}
