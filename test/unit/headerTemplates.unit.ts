import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { planReload } from '../../src/config/reload.js';
import { ManagedHeaders, managedHeadersFor } from '../../src/http/managedHeaders.js';
import {
  compileHeaderTemplates,
  HeaderTemplateError,
  type OmitReason,
} from '../../src/identity/headerTemplates.js';
import { DEFAULT_CLAIM_MAPPING } from '../../src/identity/identity.js';
import { SessionService } from '../../src/session/service.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { ManualClock } from '../../src/util/clock.js';
import { T0, tokenResult } from './fixtures.js';

const W = 'headers.templates';

function problemsOf(templates: Record<string, string>): string[] {
  try {
    compileHeaderTemplates(templates, W);
  } catch (err) {
    assert.ok(err instanceof HeaderTemplateError);
    return err.problems;
  }
  assert.fail('expected a HeaderTemplateError');
}

function render(
  template: string,
  claims: Record<string, unknown> | undefined,
  tokens: { accessToken?: string; idToken?: string } = {},
  maxValueBytes?: number,
): { value: string | undefined; omitted: OmitReason | undefined } {
  const t = compileHeaderTemplates({ 'X-T': template }, W, maxValueBytes);
  let omitted: OmitReason | undefined;
  const out = t.render({ claims, tokens: () => tokens, onOmitted: (_n, r) => (omitted = r) });
  return { value: out['x-t'], omitted };
}

describe('header templates: parsing', () => {
  test('the configured example compiles: names lower-case, claims to keep, tokens needed', () => {
    const t = compileHeaderTemplates(
      {
        'X-User-Email': '{{claims.email}}',
        'X-User-Roles': "{{join claims.roles ','}}",
        'X-Tenant': "{{default claims.tid 'none'}}",
        Authorization: 'Bearer {{accessToken}}',
      },
      W,
    );
    assert.deepEqual(t.names, ['x-user-email', 'x-user-roles', 'x-tenant', 'authorization']);
    assert.deepEqual(t.claimNames, ['email', 'roles', 'tid']);
    assert.equal(t.needsTokens, true);
    assert.equal(compileHeaderTemplates({ A: '{{claims.a}}' }, W).needsTokens, false);
  });

  test('claim paths: dotted (both readings kept), bracketed, mixed', () => {
    const t = compileHeaderTemplates(
      {
        A: '{{claims.realm_access.roles}}',
        B: '{{ claims["https://example.com/roles"] }}',
        C: "{{claims['https://example.com/app'].team.name}}",
      },
      W,
    );
    assert.deepEqual(t.claimNames, [
      'realm_access.roles',
      'realm_access',
      'https://example.com/roles',
      'https://example.com/app',
    ]);
  });

  test('a syntax error names the key, the column and the fix', () => {
    const [p] = problemsOf({ 'X-User-Roles': "{{ joins claims.roles ','}}" });
    assert.match(p!, /^headers\.templates\.X-User-Roles: unknown function "joins" at column 4 — fix: /);
    assert.match(
      problemsOf({ A: '{{claim.email}}' })[0]!,
      /unknown value "claim" at column 3 — fix: .*did you mean claims/,
    );
    assert.match(problemsOf({ A: 'x {{claims.email' })[0]!, /"\{\{" is never closed at column 3/);
    assert.match(problemsOf({ A: 'x }}' })[0]!, /"\}\}" without an opening/);
    assert.match(problemsOf({ A: '{{}}' })[0]!, /empty "\{\{\}\}"/);
    assert.match(problemsOf({ A: '{{claims}}' })[0]!, /claims needs a claim name/);
    assert.match(problemsOf({ A: '{{claims.}}' })[0]!, /expected a claim name after "\."/);
    assert.match(problemsOf({ A: '{{claims.a/b}}' })[0]!, /"\/" in a claim path .*brackets/);
    assert.match(problemsOf({ A: '{{claims["x}}' })[0]!, /never closed|unterminated/);
    assert.match(problemsOf({ A: '{{join claims.roles}}' })[0]!, /join needs a separator/);
    assert.match(problemsOf({ A: "{{join accessToken ','}}" })[0]!, /join takes a claims path/);
    assert.match(problemsOf({ A: '{{default claims.tid none}}' })[0]!, /expected the default text in quotes/);
    assert.match(problemsOf({ A: "{{default claims.tid 'x' 'y'}}" })[0]!, /unexpected "'y'"/);
    assert.match(problemsOf({ A: '{{accessToken claims.x}}' })[0]!, /unexpected "claims\.x"/);
    assert.match(problemsOf({ A: 'a\r\nb' })[0]!, /a control character at column 2/);
    assert.match(problemsOf({ A: '' })[0]!, /is empty/);
    // every problem at once, each naming its key
    const all = problemsOf({ A: '{{x}}', B: '{{claims.ok}}', C: '{{y}}' });
    assert.deepEqual(
      all.map((p) => p.split(':')[0]),
      ['headers.templates.A', 'headers.templates.C'],
    );
  });

  test('header names: tokens of letters, digits and -, never framing, hop-by-hop or ours', () => {
    for (const bad of ['X User', 'X-User:', '', 'X-Üser']) {
      assert.match(problemsOf({ [bad]: 'v' })[0]!, /is not a valid header name .*letters, digits and -/, bad);
    }
    for (const bad of ['X_User', 'X.User', '-X', 'X-']) {
      assert.match(problemsOf({ [bad]: 'v' })[0]!, /one spelling only .*letters, digits and -/, bad);
    }
    for (const bad of [
      'Host',
      'content-length',
      'Transfer-Encoding',
      'Connection',
      'Cookie',
      'Keep-Alive',
      'TE',
      'Upgrade',
      'Proxy-Authorization',
    ]) {
      assert.match(problemsOf({ [bad]: 'v' })[0]!, /cannot be templated/, bad);
    }
    for (const ours of [
      'X-Forwarded-User',
      'x-forwarded-anything',
      'X-Auth-Request-Email',
      'X-Request-Id',
      'X-Real-IP',
    ]) {
      assert.match(problemsOf({ [ours]: 'v' })[0]!, /a header Gatehouse sets itself/, ours);
    }
    assert.match(problemsOf({ 'X-A': 'v', 'x-a': 'w' })[0]!, /the same header as headers\.templates\.X-A/);
  });
});

describe('header templates: rendering', () => {
  const claims = {
    email: 'alice@example.com',
    roles: ['admin', 'ops'],
    realm_access: { roles: ['r1', 'r2'] },
    'https://example.com/roles': ['ns1', 'ns2'],
    'https://example.com/app': { team: { name: 'core' } },
    n: 42,
    ok: true,
    obj: { a: 1 },
    empty: [],
    blank: '',
  };

  test('claims, lists, nested and namespaced claims, join, default, tokens', () => {
    assert.equal(render('{{claims.email}}', claims).value, 'alice@example.com');
    assert.equal(render('{{claims.roles}}', claims).value, 'admin,ops');
    assert.equal(render("{{join claims.roles '; '}}", claims).value, 'admin; ops');
    assert.equal(render("{{join claims.email '|'}}", claims).value, 'alice@example.com');
    assert.equal(render('{{claims.realm_access.roles}}', claims).value, 'r1,r2');
    assert.equal(render('{{claims["https://example.com/roles"]}}', claims).value, 'ns1,ns2');
    assert.equal(render("{{claims['https://example.com/app'].team.name}}", claims).value, 'core');
    assert.equal(render('n={{claims.n}} ok={{claims.ok}}', claims).value, 'n=42 ok=true');
    assert.equal(render('{{claims.obj}}', claims).value, '{"a":1}');
    assert.equal(render("{{default claims.tid 'none'}}", claims).value, 'none');
    assert.equal(render("{{default claims.email 'none'}}", claims).value, 'alice@example.com');
    assert.equal(render("{{default claims.empty '-'}}", claims).value, '-');
    assert.equal(render('Bearer {{accessToken}}', claims, { accessToken: 'at' }).value, 'Bearer at');
    assert.equal(render('{{idToken}}', claims, { idToken: 'it' }).value, 'it');
    assert.equal(render('{{ claims.email }}:{{claims.n}}', claims).value, 'alice@example.com:42');
    assert.equal(render("{{default claims.x '}}'}}", claims).value, '}}');
    // a name that exists as-is wins, as everywhere claims are named (claimPath.ts)
    assert.equal(render('{{claims.a.b}}', { 'a.b': 'flat', a: { b: 'nested' } }).value, 'flat');
    // non-ASCII goes out as its UTF-8 bytes
    assert.equal(render('{{claims.name}}', { name: '李雷' }).value, Buffer.from('李雷').toString('latin1'));
  });

  test('a missing value leaves the header out (default says what to send instead)', () => {
    assert.deepEqual(render('{{claims.nope}}', claims), { value: undefined, omitted: 'missing' });
    assert.deepEqual(render('Bearer {{accessToken}}', claims, {}), { value: undefined, omitted: 'missing' });
    assert.equal(render('{{claims.empty}}', claims).omitted, 'missing');
    assert.equal(render('{{claims.blank}}', claims).omitted, 'missing');
    assert.equal(render('{{claims.email.x}}', claims).omitted, 'missing');
    assert.equal(render('{{claims.email}}', undefined).omitted, 'missing');
    assert.equal(render("{{default claims.nope ''}}", claims).omitted, 'empty');
  });

  test('CR, LF and other control characters in a value leave the header out', () => {
    for (const v of ['a\r\nX-Evil: 1', 'a\nb', 'a\u0000b', 'tab\there', 'del\u007f']) {
      assert.deepEqual(render('{{claims.v}}', { v }), { value: undefined, omitted: 'control_character' }, v);
    }
    assert.equal(render('{{claims.v}}', { v: ['ok', 'bad\r\n'] }).omitted, 'control_character');
  });

  test('a value over the cap is left out', () => {
    assert.equal(render('{{claims.v}}', { v: 'x'.repeat(300) }, {}, 300).value, 'x'.repeat(300));
    assert.equal(render('{{claims.v}}', { v: 'x'.repeat(301) }, {}, 300).omitted, 'too_long');
    // bytes, not characters
    assert.equal(render('{{claims.v}}', { v: 'é'.repeat(151) }, {}, 300).omitted, 'too_long');
  });

  test('tokens are opened once per render, and only when a template needs one', () => {
    let opened = 0;
    const t = compileHeaderTemplates({ A: '{{accessToken}}', B: '{{idToken}}', C: '{{claims.x}}' }, W);
    t.render({
      claims: { x: 1 },
      tokens: () => {
        opened++;
        return { accessToken: 'a', idToken: 'i' };
      },
    });
    assert.equal(opened, 1);
    const c = compileHeaderTemplates({ C: '{{claims.x}}' }, W);
    c.render({
      claims: { x: 1 },
      tokens: () => {
        opened++;
        return {};
      },
    });
    assert.equal(opened, 1);
  });
});

describe('header templates: configuration', () => {
  const base = {
    publicUrl: 'http://127.0.0.1:4180',
    upstream: 'http://127.0.0.1:3000',
    provider: { issuer: 'http://127.0.0.1:9000', clientId: 'c', clientSecret: 's' },
    session: { secret: 'x'.repeat(32) },
  };

  test('a bad template is a ConfigError naming its key', () => {
    assert.throws(
      () =>
        loadConfig({
          object: { ...base, headers: { templates: { 'X-User-Roles': "{{joins claims.roles ','}}" } } },
          env: {},
        }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.some((p) =>
          p.startsWith('headers.templates.X-User-Roles: unknown function "joins" at column 3'),
        ),
    );
  });

  test('an Authorization template and passAuthorizationHeader cannot both be set', () => {
    assert.throws(
      () =>
        loadConfig({
          object: {
            ...base,
            headers: {
              passAuthorizationHeader: true,
              templates: { Authorization: 'Bearer {{accessToken}}' },
            },
          },
          env: {},
        }),
      /headers\.templates\.Authorization: headers\.passAuthorizationHeader sets Authorization too/,
    );
  });

  test('template names are managed: a client copy is dropped in any spelling', () => {
    const cfg = loadConfig({
      object: { ...base, headers: { templates: { 'X-User-Email': '{{claims.email}}' } } },
      env: {},
    });
    const m = managedHeadersFor(cfg);
    for (const name of ['x-user-email', 'x_user_email', 'x.user.email', 'x-user_email']) {
      assert.equal(m.drops(name), true, name);
    }
    assert.equal(m.drops('x-user-name'), false);
    const lax = new ManagedHeaders({
      allowUnderscoreHeaders: true,
      setsAuthorization: false,
      templateNames: ['x-user-email'],
    });
    assert.equal(lax.drops('x_user_email'), true);
    assert.equal(lax.drops('x_user_name'), false);
  });
});

describe('header templates: the claims a session keeps', () => {
  const keep = compileHeaderTemplates(
    { A: '{{claims.email}}', B: '{{claims.realm_access.roles}}', C: '{{claims["https://x/org"]}}' },
    W,
  ).claimNames;
  const sessions = new SessionService(
    new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) }),
    {
      secrets: ['s'.repeat(40)],
      maxAgeMs: 86_400_000,
      idleTimeoutMs: 0,
      claims: DEFAULT_CLAIM_MAPPING,
      keepClaims: keep,
    },
    new ManualClock(T0),
  );
  const claims = {
    sub: 'usr_a',
    email: 'a@example.com',
    name: 'A',
    groups: ['g'],
    realm_access: { roles: ['r'] },
    'https://x/org': 'acme',
  };

  test('at sign-in: only the top-level claims the templates read; at refresh: the claims that came back', async () => {
    const { record } = await sessions.create(
      tokenResult({ now: T0, refreshToken: 'rt', claims }),
      sessions.identityFrom(claims),
    );
    assert.deepEqual(record.claims, {
      email: 'a@example.com',
      realm_access: { roles: ['r'] },
      'https://x/org': 'acme',
    });
    const refreshed = sessions.refreshed(
      record,
      tokenResult({
        now: T0 + 1000,
        refreshToken: 'rt2',
        claims: { sub: 'usr_a', email: 'new@example.com' },
      }),
    );
    assert.deepEqual(refreshed.claims, { email: 'new@example.com' });
    // A refresh without claims keeps what the record had, as it keeps the identity.
    const kept = sessions.refreshed(
      record,
      tokenResult({ now: T0 + 1000, refreshToken: 'rt2', claims: undefined }),
    );
    assert.deepEqual(kept.claims, record.claims);
  });

  test('no template reads a claim: records carry no claims at all', async () => {
    const none = new SessionService(
      new MemoryStore({ maxSessions: 10, clock: new ManualClock(T0) }),
      { secrets: ['s'.repeat(40)], maxAgeMs: 86_400_000, idleTimeoutMs: 0, claims: DEFAULT_CLAIM_MAPPING },
      new ManualClock(T0),
    );
    const { record } = await none.create(tokenResult({ now: T0, claims }), none.identityFrom(claims));
    assert.equal('claims' in record, false);
  });
});

describe('header templates: reload', () => {
  test('a changed template needs a restart: the running templates (and managed names) are kept', () => {
    const object = {
      publicUrl: 'http://127.0.0.1:4180',
      upstream: 'http://127.0.0.1:3000',
      provider: { issuer: 'http://127.0.0.1:9000', clientId: 'c', clientSecret: 's' },
      session: { secret: 'x'.repeat(32) },
    };
    const running = loadConfig({
      object: { ...object, headers: { templates: { 'X-A': '{{claims.a}}' } } },
      env: {},
    });
    const next = loadConfig({
      object: { ...object, headers: { templates: { 'X-B': '{{claims.b}}' } } },
      env: {},
    });
    const plan = planReload(running, next);
    assert.deepEqual(plan.needsRestart, ['headers.templates']);
    assert.deepEqual(plan.settings.headers.templates, { 'X-A': '{{claims.a}}' });
  });
});
