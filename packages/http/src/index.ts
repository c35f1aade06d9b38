export { HttpError, type HttpErrorCode } from './errors.js';
export { readBoundedBody, readBoundedText, readCapped } from './body.js';
export { acceptsGzip } from './encoding.js';
export { keepAliveFetch, type KeepAliveFetchOptions } from './fetch.js';
