export * from './types.js';
export { RawNode } from './rawnode.js';
export { applyConfChangeTo, parseConfChange, encodeConfChange, isConfChange } from './confchange.js';
export { isValidMessage } from './validate.js';
export { applyCommitted } from './apply.js';
