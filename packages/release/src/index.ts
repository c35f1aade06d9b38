// The assembly line's public API; each module adds its exports here.
export {};
