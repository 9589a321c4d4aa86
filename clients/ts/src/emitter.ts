// A minimal typed listener registry: on() returns the function that removes the listener, which
// is what UI code wants when a view goes away.

export type Unsubscribe = () => void;

type AnyListener = (...args: any[]) => void;

export class Listeners<Events extends { [name: string]: unknown[] }> {
  readonly #byEvent = new Map<keyof Events, Set<AnyListener>>();

  on<K extends keyof Events>(event: K, listener: (...args: Events[K]) => void): Unsubscribe {
    let set = this.#byEvent.get(event);
    if (!set) this.#byEvent.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    for (const listener of [...(this.#byEvent.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        // One broken listener must not starve the others (or the socket's own handlers).
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  clear(): void {
    this.#byEvent.clear();
  }
}
