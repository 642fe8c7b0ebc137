export * from './model.js';
export * from './embedder.js';
export * from './store.js';
export * from './recall.js';
export * from './maintenance.js';
