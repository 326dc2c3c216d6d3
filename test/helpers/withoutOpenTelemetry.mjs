// `node --import ./test/helpers/withoutOpenTelemetry.mjs`: the process runs as if the optional
// @opentelemetry/* packages were not installed (their resolution fails like a missing package's).
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith('@opentelemetry/')) {
    const err = new Error("Cannot find package '" + specifier + "'");
    err.code = 'ERR_MODULE_NOT_FOUND';
    throw err;
  }
  return next(specifier, context);
}`)}`,
);
