// Server configuration (src/server/server-config.ts): defaults < config file
// < flags; invalid values and unknown keys are errors that name the source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFromJson, defaultServerConfig, resolveServerConfig } from '../../src/server/server-config.ts';

test('config: defaults, file, flags merge in order', () => {
  assert.equal(resolveServerConfig().port, 8080);
  assert.equal(resolveServerConfig().host, '127.0.0.1');
  assert.equal(resolveServerConfig().data, './nextdb-data');
  const file = configFromJson(
    { port: 5433, auth: { remote: 'md5' }, limits: { maxConnections: 7 }, tls: { cert: 'c.pem', key: 'k.pem' } },
    'f.json',
  );
  const c = resolveServerConfig(file, { port: 6000, memory: true, host: undefined });
  assert.deepEqual(c, {
    ...defaultServerConfig,
    port: 6000,
    memory: true,
    authRemote: 'md5',
    maxConnections: 7,
    tlsCert: 'c.pem',
    tlsKey: 'k.pem',
  });
});

test('config: invalid values are errors naming the source', () => {
  assert.throws(() => configFromJson({ prot: 1 }, 'f.json'), /f\.json: unknown key "prot"/);
  assert.throws(() => configFromJson({ port: 70000 }, 'f.json'), /f\.json: port: port must be an integer/);
  assert.throws(() => configFromJson({ auth: { local: 'kerberos' } }, 'f.json'), /auth\.local must be one of trust/);
  assert.throws(() => configFromJson([], 'f.json'), /must be an object/);
  assert.throws(() => resolveServerConfig({ tlsCert: 'x' }), /both a certificate/);
  assert.throws(() => resolveServerConfig({ maxConnections: 0 }), /maxConnections must be a positive integer/);
  assert.throws(() => resolveServerConfig({ logLevel: 'loud' }), /logLevel must be one of/);
});
