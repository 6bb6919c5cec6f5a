import { useEffect, useState, useSyncExternalStore } from "react";

/** The smallest observable value: components subscribe with `useStore`, anything else with `subscribe`. */
export class Store<T> {
  private listeners = new Set<() => void>();

  constructor(private value: T) {}

  get = (): T => this.value;

  set(value: T): void {
    if (Object.is(value, this.value)) return;
    this.value = value;
    for (const l of this.listeners) l();
  }

  update(fn: (prev: T) => T): void {
    this.set(fn(this.value));
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

export function useStore<T>(store: Store<T>): T {
  return useSyncExternalStore(store.subscribe, store.get);
}

/**
 * Like `useStore`, but a change renders with the priority of whatever caused it, as `useState`
 * does: after a network answer, in a later task, batched with any other answer that landed
 * first; `useStore`'s updates always render synchronously, one render per change. For the canvas,
 * where a render of thousands of nodes is dear and pages of cards arrive close together.
 */
export function useStoreState<T>(store: Store<T>): T {
  const [value, setValue] = useState(store.get);
  useEffect(() => {
    const read = () => setValue(() => store.get());
    read();
    return store.subscribe(read);
  }, [store]);
  return value;
}
