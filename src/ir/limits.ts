// Sizes no real model reaches: checked before anything is allocated (config import, bundle read).

/** Largest vocabulary, context, width, depth and head count a model may declare. */
export const CONFIG_LIMITS = { vocab: 1 << 22, positions: 1 << 24, width: 1 << 17, layers: 1024, heads: 1024 } as const;
