/**
 * Group commit over a synchronous database (better-sqlite3): the calls made
 * in one turn of the event loop share one transaction, so one fsync covers
 * them all. When the shared transaction fails, each call runs alone, so a
 * bad item fails only its own caller. Used by the site storage (batches,
 * log indices) and the router's outbox.
 */
export class GroupCommit<I, O> {
  readonly #together: (items: readonly I[]) => O[];
  readonly #alone: (item: I) => Promise<O>;
  #pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];

  /**
   * `together` runs several items in one transaction (throwing to fall back);
   * `alone` runs one item in its own transaction.
   */
  constructor(together: (items: readonly I[]) => O[], alone: (item: I) => Promise<O>) {
    this.#together = together;
    this.#alone = alone;
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ item, resolve, reject });
      if (this.#pending.length === 1) {
        setImmediate(() => {
          this.flush();
        });
      }
    });
  }

  /** Runs what is pending now (before the database closes). */
  flush(): void {
    const group = this.#pending;
    this.#pending = [];
    let results: O[] | undefined;
    if (group.length > 1) {
      try {
        results = this.#together(group.map((g) => g.item));
      } catch {
        // Each item alone below: the failure lands on the item that caused it.
        results = undefined;
      }
    }
    group.forEach((g, i) => {
      const done = results?.[i];
      if (results !== undefined) g.resolve(done as O);
      else this.#alone(g.item).then(g.resolve, g.reject);
    });
  }
}
