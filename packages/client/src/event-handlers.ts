/**
 * Event handler IDL attributes (`onopen`, `onmessage`, ...) for an
 * EventTarget, as HTML defines them: shared by `WebSocket` and
 * `ReconnectingWebSocket`. Nothing of Node's: the browser entry uses it.
 * @see https://html.spec.whatwg.org/multipage/webappapis.html#event-handler-attributes
 * @packageDocumentation
 */

/** An `on*` attribute: its value and the listener registered for it. */
interface EventHandlerSlot {
  value: unknown;
  readonly listener: (event: Event) => void;
}

/** The `on*` attributes of one object, by event type. */
export type EventHandlerSlots = Map<string, EventHandlerSlot>;

/** @see https://html.spec.whatwg.org/multipage/webappapis.html#getting-the-current-value-of-the-event-handler */
export function getEventHandler<T>(slots: EventHandlerSlots, type: string): T | null {
  return (slots.get(type)?.value ?? null) as T | null;
}

/**
 * Setting replaces the callback but keeps the listener's place among the
 * others; null removes it, and a later value is then registered anew. The
 * listener is added with EventTarget's own method, as `super` would, so a
 * subclass's `addEventListener` is not involved.
 */
export function setEventHandler(
  slots: EventHandlerSlots,
  owner: EventTarget,
  type: string,
  value: unknown,
): void {
  // [LegacyTreatNonObjectAsNull]: any non-object is null.
  const callback =
    typeof value === 'function' || (typeof value === 'object' && value !== null) ? value : null;
  const slot = slots.get(type);
  if (callback === null) {
    if (slot) {
      slots.delete(type);
      EventTarget.prototype.removeEventListener.call(owner, type, slot.listener);
    }
    return;
  }
  if (slot) {
    slot.value = callback;
    return;
  }
  const created: EventHandlerSlot = {
    value: callback,
    listener: (event) => {
      // A non-callable object is kept as the value but does nothing.
      if (typeof created.value === 'function') created.value.call(owner, event);
    },
  };
  slots.set(type, created);
  EventTarget.prototype.addEventListener.call(owner, type, created.listener);
}
