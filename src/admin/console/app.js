// tenant-gateway operator console: plain DOM, no framework, nothing from another origin.
// Everything shown from the API is set with textContent (tenant names are user input).
// The CSRF token lives in this closure only; the admin token is never stored.
(function () {
  'use strict';

  let csrf = null; // the session's CSRF token (memory only)
  let poller = null; // the tenant page's metrics timer
  let renderSeq = 0; // bumps on every navigation; stale async renders stop
  const PAGE_SIZE = 25;
  const list = { q: '', status: '', tier: '', after: null, stack: [] };

  const view = document.getElementById('view');
  const nav = document.getElementById('nav');
  const signoutBtn = document.getElementById('signout');

  // ---------------------------------------------------------------------------
  // DOM helpers

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
    append(el, children);
    return el;
  }

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  function show(...children) {
    clear(view);
    append(view, children);
  }

  function fmt(v) {
    if (v === null || v === undefined || v === '') return '—';
    if (Array.isArray(v)) return v.length ? v.join(', ') : '—';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  function badge(text, kind) {
    return h('span', { class: `badge badge-${kind || text}`, text });
  }

  function table(caption, headers, rows, empty) {
    if (!rows.length) return h('p', { class: 'muted', text: empty || 'Nothing to show.' });
    return h('div', { class: 'table-wrap' },
      h('table', {},
        caption ? h('caption', { text: caption }) : null,
        h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col', text: t })))),
        h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => {
          const td = h('td', { 'data-label': headers[i] });
          append(td, [c instanceof Node ? c : fmt(c)]);
          return td;
        }))))));
  }

  function dl(pairs) {
    return h('dl', { class: 'facts' }, pairs.map(([k, v]) => [
      h('dt', { text: k }),
      h('dd', {}, v instanceof Node ? v : fmt(v)),
    ]));
  }

  function section(title, ...children) {
    return h('section', { class: 'card' }, h('h2', { text: title }), children);
  }

  function banner(text, kind) {
    return h('p', { class: `banner banner-${kind || 'error'}`, role: kind === 'ok' ? 'status' : 'alert', text });
  }

  // A labelled input with a slot for its error message.
  function field(id, label, attrs, hint) {
    const input = attrs.tag === 'select'
      ? h('select', { id, name: id }, (attrs.options || []).map(([v, t]) => h('option', { value: v, text: t })))
      : h(attrs.tag || 'input', { id, name: id, type: attrs.tag ? null : (attrs.type || 'text'), ...attrs, tag: null, options: null });
    const err = h('p', { class: 'field-error', id: `${id}-error`, role: 'alert', hidden: true });
    input.setAttribute('aria-describedby', `${id}-error${hint ? ` ${id}-hint` : ''}`);
    return h('div', { class: 'field' },
      h('label', { for: id, text: label }),
      input,
      hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null,
      err);
  }

  function setFieldError(id, message) {
    const err = document.getElementById(`${id}-error`);
    const input = document.getElementById(id);
    if (!err) return false;
    err.textContent = message;
    err.hidden = false;
    if (input) input.setAttribute('aria-invalid', 'true');
    return true;
  }

  function clearErrors(form) {
    form.querySelectorAll('.field-error').forEach((e) => { e.textContent = ''; e.hidden = true; });
    form.querySelectorAll('[aria-invalid]').forEach((e) => e.removeAttribute('aria-invalid'));
    form.querySelectorAll('.form-error').forEach((e) => e.remove());
  }

  function formError(form, message) {
    const p = banner(message);
    p.classList.add('form-error');
    form.prepend(p);
  }

  // Shows an API error: messages of known fields next to their inputs, the rest on top.
  // `fieldMap` maps record field paths (`subdomain`, `idp.issuer`, ...) to input ids.
  function showApiError(form, res, fieldMap, conflictField) {
    clearErrors(form);
    const d = res.data || {};
    let placed = 0;
    const leftover = [];
    if (Array.isArray(d.fields) && d.fields.length) {
      for (const f of d.fields) {
        const path = String(f.field || '').replace(/^tenants\[\d+\]\./, '');
        const key = Object.keys(fieldMap)
          .filter((k) => path === k || path.startsWith(`${k}.`) || path.startsWith(`${k}[`))
          .sort((a, b) => b.length - a.length)[0];
        if (key && setFieldError(fieldMap[key], f.message)) placed += 1;
        else leftover.push(`${path}: ${f.message}`);
      }
    } else if (d.error === 'conflict' && conflictField && setFieldError(conflictField, d.message)) {
      placed += 1;
    } else {
      leftover.push(d.message || d.error || `HTTP ${res.status}`);
      if (Array.isArray(d.issues)) leftover.push(...d.issues);
      if (d.step) leftover.push(`failed step: ${d.step}`);
    }
    if (leftover.length) formError(form, leftover.join('\n'));
    const first = form.querySelector('[aria-invalid="true"]') || form.querySelector('.form-error');
    if (first) first.focus && first.focus();
    return placed;
  }

  // ---------------------------------------------------------------------------
  // API

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method !== 'GET' && method !== 'HEAD' && csrf) headers['X-CSRF-Token'] = csrf;
    let resp;
    try {
      resp = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch (e) {
      return { status: 0, data: { error: 'network', message: `cannot reach the gateway: ${e.message}` } };
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try { data = JSON.parse(text); } catch { data = { message: text }; }
    }
    if (resp.status === 401 && path !== '/ui/session') {
      csrf = null;
      signedOut('Your session has ended; sign in again.');
    }
    return { status: resp.status, data };
  }

  // Reads a page's data; shows the error in place of the page when it fails.
  async function load(path) {
    const r = await api('GET', path);
    if (r.status !== 200) {
      if (r.status !== 401) show(banner(`${path}: ${(r.data && r.data.message) || `HTTP ${r.status}`}`));
      return null;
    }
    return r.data;
  }

  // ---------------------------------------------------------------------------
  // Confirmation dialog (not window.confirm: headless runs may dismiss it)

  const dialog = document.getElementById('confirm');
  function confirmAction(title, message, okLabel) {
    document.getElementById('confirm-title').textContent = title;
    document.getElementById('confirm-message').textContent = message;
    const ok = document.getElementById('confirm-ok');
    const cancel = document.getElementById('confirm-cancel');
    ok.textContent = okLabel || 'Confirm';
    return new Promise((resolve) => {
      const done = (answer) => {
        ok.removeEventListener('click', onOk);
        cancel.removeEventListener('click', onCancel);
        dialog.removeEventListener('cancel', onCancel);
        if (dialog.open) dialog.close();
        resolve(answer);
      };
      const onOk = () => done(true);
      const onCancel = (e) => { if (e) e.preventDefault(); done(false); };
      ok.addEventListener('click', onOk);
      cancel.addEventListener('click', onCancel);
      dialog.addEventListener('cancel', onCancel);
      dialog.showModal();
      cancel.focus();
    });
  }

  // ---------------------------------------------------------------------------
  // Sign-in and sign-out

  function signedIn(yes) {
    nav.hidden = !yes;
    signoutBtn.hidden = !yes;
  }

  function signedOut(message) {
    stopPolling();
    signedIn(false);
    renderSignIn(message);
  }

  function renderSignIn(message) {
    renderSeq += 1;
    const form = h('form', { id: 'signin', class: 'card narrow', novalidate: true },
      h('h1', { text: 'Sign in' }),
      h('p', { class: 'muted', text: 'Use the gateway\u2019s admin token. It is exchanged for a session cookie and not kept by this page.' }),
      message ? banner(message, 'info') : null,
      field('signin-token', 'Admin token', { type: 'password', autocomplete: 'current-password', required: true }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Sign in' })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const input = document.getElementById('signin-token');
      const token = input.value;
      if (!token) { setFieldError('signin-token', 'Enter the admin token.'); input.focus(); return; }
      const r = await api('POST', '/ui/session', { token });
      if (r.status === 200 && r.data && r.data.csrf) {
        input.value = '';
        csrf = r.data.csrf;
        signedIn(true);
        if (!location.hash || location.hash === '#/' || location.hash === '#/signin') location.hash = '#/tenants';
        else route();
      } else {
        setFieldError('signin-token', (r.data && r.data.message) || `Sign-in failed (HTTP ${r.status}).`);
        input.select();
        input.focus();
      }
    });
    show(form);
    document.getElementById('signin-token').focus();
  }

  signoutBtn.addEventListener('click', async () => {
    await api('DELETE', '/ui/session');
    csrf = null;
    signedOut('Signed out.');
  });

  // ---------------------------------------------------------------------------
  // Tenants list

  function listQuery() {
    const p = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (list.q) p.set('q', list.q);
    if (list.status) p.set('status', list.status);
    if (list.tier) p.set('tier', list.tier);
    if (list.after) p.set('after', list.after);
    return `/tenants?${p}`;
  }

  async function renderTenants(seq) {
    const form = h('form', { id: 'tenant-filters', class: 'filters', role: 'search' },
      field('f-q', 'Search', { type: 'search', value: list.q, placeholder: 'name, subdomain, domain, id, email' }),
      field('f-status', 'Status', { tag: 'select', options: [['', 'Any'], ['active', 'Active'], ['disabled', 'Disabled']] }),
      field('f-tier', 'Tier', { value: list.tier, placeholder: 'any', list: 'tiers' }),
      h('datalist', { id: 'tiers' }, ['basic', 'standard', 'premium'].map((t) => h('option', { value: t }))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Search' })));
    form.querySelector('#f-status').value = list.status;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      list.q = form.querySelector('#f-q').value.trim();
      list.status = form.querySelector('#f-status').value;
      list.tier = form.querySelector('#f-tier').value.trim();
      list.after = null;
      list.stack = [];
      renderTenantsPage(seq);
    });
    form.querySelector('#f-status').addEventListener('change', () => form.requestSubmit());
    const results = h('div', { id: 'tenant-results', 'aria-busy': 'true' }, h('p', { class: 'muted', text: 'Loading tenants…' }));
    show(h('div', { class: 'page-head' },
      h('h1', { text: 'Tenants' }),
      h('a', { class: 'btn btn-primary', href: '#/onboard', text: 'Onboard a tenant' })), form, results);
    await renderTenantsPage(seq);
  }

  async function renderTenantsPage(seq) {
    const results = document.getElementById('tenant-results');
    if (!results) return;
    results.setAttribute('aria-busy', 'true');
    const data = await load(listQuery());
    if (!data || seq !== renderSeq) return;
    clear(results);
    const first = list.stack.length * PAGE_SIZE;
    const shown = data.tenants.length;
    results.appendChild(h('p', { id: 'tenant-total', class: 'total' },
      `${data.total} tenant${data.total === 1 ? '' : 's'}`,
      shown ? ` · showing ${first + 1}–${first + shown}` : ''));
    results.appendChild(table(null, ['Name', 'Subdomain', 'Status', 'Tier', 'Custom domains', 'IdP'],
      data.tenants.map((t) => [
        h('a', { href: `#/tenants/${encodeURIComponent(t.id)}`, class: 'tenant-link', text: t.name || t.id }),
        t.subdomain,
        badge(t.status || 'active'),
        t.tier,
        t.custom_domains,
        t.idp ? t.idp.kind : '—',
      ]), 'No tenants match.'));
    const prev = h('button', { type: 'button', id: 'page-prev', class: 'btn', text: '← Previous', disabled: list.stack.length === 0 });
    const next = h('button', { type: 'button', id: 'page-next', class: 'btn', text: 'Next →', disabled: !data.next });
    prev.addEventListener('click', () => {
      list.after = list.stack.pop() || null;
      renderTenantsPage(seq);
    });
    next.addEventListener('click', () => {
      list.stack.push(list.after);
      list.after = data.next;
      renderTenantsPage(seq);
    });
    results.appendChild(h('nav', { class: 'pager', 'aria-label': 'Pages' }, prev, next));
    results.setAttribute('aria-busy', 'false');
    const table_el = results.querySelector('table');
    if (table_el) table_el.id = 'tenant-table';
  }

  // ---------------------------------------------------------------------------
  // One tenant

  function hostCert(host, certs) {
    const st = (certs.hosts || []).find((x) => x.host === host);
    if (st) {
      const bits = [badge(st.status, st.status)];
      if (st.not_after) bits.push(` until ${st.not_after}`);
      if (st.failures) bits.push(` · ${st.failures} failure${st.failures === 1 ? '' : 's'}`);
      if (st.last_error) bits.push(h('span', { class: 'small', text: ` · ${st.last_error}` }));
      return h('span', {}, bits);
    }
    const covers = (n) => n === host
      || (n.startsWith('*.') && host.endsWith(n.slice(1)) && !host.slice(0, host.length - n.length + 1).includes('.'));
    // The most specific: an exact name before a wildcard.
    const all = certs.certificates || [];
    const served = all.find((c) => (c.names || []).includes(host)) || all.find((c) => (c.names || []).some(covers));
    if (served) {
      return h('span', {}, badge(served.valid ? 'valid' : 'invalid', served.valid ? 'valid' : 'failing'),
        ` ${fmt(served.names)} (${served.source || 'static'}) until ${fmt(served.not_after)}`);
    }
    return h('span', { class: 'muted', text: 'no certificate for this host' });
  }

  function bindingText(idp) {
    const b = idp.tenant_binding;
    if (b === 'issuer') return 'issuer (dedicated IdP)';
    if (b && typeof b === 'object') {
      return [b.claim ? `claim ${b.claim}` : null, b.group ? `group prefix ${b.group}` : null].filter(Boolean).join(' + ');
    }
    if (idp.tenant_claim || idp.tenant_group_prefix) {
      return [idp.tenant_claim ? `claim ${idp.tenant_claim}` : null, idp.tenant_group_prefix ? `group prefix ${idp.tenant_group_prefix}` : null].filter(Boolean).join(' + ');
    }
    return 'claim custom:tenantid (default)';
  }

  async function renderTenant(seq, id) {
    const [t, certs] = await Promise.all([
      load(`/tenants/${encodeURIComponent(id)}`),
      api('GET', '/certs').then((r) => (r.status === 200 ? r.data : {})),
    ]);
    if (!t || seq !== renderSeq) return;
    const status = t.status || 'active';
    const enableBtn = h('button', { type: 'button', id: 'btn-enable', class: 'btn', text: 'Enable', hidden: status === 'active' });
    const disableBtn = h('button', { type: 'button', id: 'btn-disable', class: 'btn btn-warn', text: 'Disable', hidden: status !== 'active' });
    const deleteBtn = h('button', { type: 'button', id: 'btn-delete', class: 'btn btn-danger', text: 'Delete' });
    const actionMsg = h('div', { id: 'tenant-action-msg' });
    const label = t.name || t.id;

    async function act(btn, title, message, ok, method, path) {
      if (!(await confirmAction(title, message, ok))) { btn.focus(); return; }
      btn.disabled = true;
      const r = await api(method, path);
      btn.disabled = false;
      if (seq !== renderSeq) return;
      if (r.status === 204 || r.status === 200) {
        if (method === 'DELETE') { location.hash = '#/tenants'; return; }
        route();
      } else {
        clear(actionMsg).appendChild(banner((r.data && r.data.message) || `HTTP ${r.status}`));
      }
    }
    enableBtn.addEventListener('click', () => act(enableBtn, 'Enable tenant', `Enable ${label}? Its hosts will answer again.`, 'Enable', 'POST', `/tenants/${encodeURIComponent(t.id)}/enable`));
    disableBtn.addEventListener('click', () => act(disableBtn, 'Disable tenant', `Disable ${label}? Its hosts will answer 403 until it is enabled again.`, 'Disable', 'POST', `/tenants/${encodeURIComponent(t.id)}/disable`));
    deleteBtn.addEventListener('click', () => act(deleteBtn, 'Delete tenant', `Delete ${label} for good? Its record is removed and its hosts stop answering.`, 'Delete', 'DELETE', `/tenants/${encodeURIComponent(t.id)}`));

    // Domains and their certificates.
    // The subdomain's hosts (one per base domain): the record's `hosts` less its custom domains.
    const custom = new Set(t.custom_domains || []);
    const subHosts = new Set((t.hosts || []).filter((x) => !custom.has(x)));
    const domainRows = [
      ...[...subHosts].sort().map((host) => [host, 'subdomain', hostCert(host, certs)]),
      ...(subHosts.size ? [] : [[`${t.subdomain}.<base domain>`, 'subdomain', h('span', { class: 'muted', text: 'no certificate (plain HTTP)' })]]),
      ...(t.custom_domains || []).map((host) => [host, 'custom', hostCert(host, certs)]),
    ];
    const domainsTable = table(null, ['Host', 'Kind', 'Certificate'], domainRows);
    domainsTable.id = 'domains-table';
    const domainsForm = h('form', { id: 'domains-form', class: 'inline-form', novalidate: true },
      field('f-custom-domains', 'Custom domains', { tag: 'textarea', rows: 3 }, 'One host per line (or comma separated).'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save domains' })));
    domainsForm.querySelector('#f-custom-domains').value = (t.custom_domains || []).join('\n');
    domainsForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(domainsForm);
      const domains = domainsForm.querySelector('#f-custom-domains').value.split(/[\s,]+/).map((d) => d.trim()).filter(Boolean);
      const r = await api('PATCH', `/tenants/${encodeURIComponent(t.id)}`, { custom_domains: domains });
      if (r.status === 200) route();
      else showApiError(domainsForm, r, { custom_domains: 'f-custom-domains' }, 'f-custom-domains');
    });

    // IdP.
    const idp = t.idp;
    const idpFacts = idp ? h('div', { id: 'idp-facts' }, dl([
      ['Kind', idp.kind],
      ['Issuer', idp.issuer],
      ['Client id', idp.client_id],
      ['Client secret', idp.client_secret ? (idp.client_secret.env ? `env ${idp.client_secret.env}` : idp.client_secret.file ? `file ${idp.client_secret.file}` : 'sealed') : 'none (public client)'],
      ['Scopes', idp.scopes],
      ['Tenant binding', bindingText(idp)],
      ['Managed', idp.managed ? `${idp.managed.user_pool_id} / group ${idp.managed.group}` : 'no'],
    ])) : h('p', { class: 'muted', text: 'No IdP: the tenant\u2019s routes are not signed in (or use basic auth).' });
    const idpForm = renderIdpForm(t);

    // Routes.
    const routes = t.routes;
    const routesTable = routes
      ? table(null, ['Prefix', 'Pool', 'Auth', 'Groups', 'Limits'], routes.map((r) => [
        r.prefix, r.pool, r.auth || 'default', r.require_groups, r.limits === undefined ? 'tenant' : r.limits,
      ]), 'No routes.')
      : h('p', { class: 'muted', text: 'The gateway\u2019s default routes.' });
    const routesForm = h('form', { id: 'routes-form', class: 'inline-form', novalidate: true },
      field('f-routes', 'Routes (JSON list)', { tag: 'textarea', rows: 6, spellcheck: 'false', class: 'mono' }, 'e.g. [{"prefix": "/", "pool": "web"}]'),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save routes' })));
    routesForm.querySelector('#f-routes').value = JSON.stringify(routes || [], null, 2);
    routesForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(routesForm);
      let body;
      try { body = JSON.parse(routesForm.querySelector('#f-routes').value); } catch (err) {
        setFieldError('f-routes', `Not JSON: ${err.message}`);
        return;
      }
      const r = await api('PUT', `/tenants/${encodeURIComponent(t.id)}/routes`, body);
      if (r.status === 200) route();
      else showApiError(routesForm, r, { routes: 'f-routes' }, 'f-routes');
    });

    const lim = t.effective_limits || {};
    const metrics = h('div', { id: 'tenant-metrics' },
      dl([
        ['Request rate', h('span', { id: 'metric-rate', text: 'measuring…' })],
        ['Error ratio (5xx)', h('span', { id: 'metric-errors', text: 'measuring…' })],
        ['Client errors (4xx)', h('span', { id: 'metric-4xx', text: 'measuring…' })],
        ['Requests so far', h('span', { id: 'metric-total', text: '…' })],
        ['Limited so far', h('span', { id: 'metric-limited', text: '…' })],
      ]));

    show(
      h('p', { class: 'crumbs' }, h('a', { href: '#/tenants', text: '← Tenants' })),
      h('div', { class: 'page-head' },
        h('h1', { id: 'tenant-name', text: label }),
        h('span', { id: 'tenant-status' }, badge(status))),
      h('div', { class: 'actions tenant-actions' }, enableBtn, disableBtn, deleteBtn),
      actionMsg,
      h('div', { class: 'grid' },
        section('Record', dl([
          ['Id', h('code', { text: t.id })],
          ['Subdomain', t.subdomain],
          ['Tier', t.tier],
          ['Email domain', t.email_domain],
          ['Admin email', t.admin_email],
          ['Basic-auth users', (t.basic_auth || []).map((u) => u.username)],
          ['Own pools', Object.keys(t.pools || {})],
        ])),
        section('Traffic', metrics),
        section('Effective limits', dl([
          ['Rate per second', lim.rate_per_second === null ? 'unlimited' : lim.rate_per_second],
          ['Burst', lim.burst === null ? '—' : lim.burst],
          ['Max in flight', lim.max_in_flight === null ? 'unlimited' : lim.max_in_flight],
          ['Key', lim.key],
          ['Tier configured', lim.tier_configured ? 'yes' : 'no'],
          ['Overrides', t.limits ? t.limits : 'none'],
        ]))),
      section('Domains and certificates',
        domainsTable,
        domainsForm),
      section('Identity provider', idpFacts, idpForm),
      section('Routes', routesTable, routesForm),
    );
    startPolling(seq, t.id);
  }

  function renderIdpForm(t) {
    const idp = t.idp || {};
    const b = idp.tenant_binding;
    const bindingKind = b === 'issuer' ? 'issuer' : (b && b.group && !b.claim) ? 'group' : (b && b.group && b.claim) ? 'claim+group' : 'claim';
    const form = h('form', { id: 'idp-form', class: 'inline-form', novalidate: true },
      h('h3', { text: t.idp ? 'Change the IdP' : 'Federate: set an IdP' }),
      field('f-idp-kind', 'Kind', { tag: 'select', options: [['oidc', 'OIDC'], ['cognito', 'Cognito']] }),
      field('f-idp-issuer', 'Issuer URL', { type: 'url', value: idp.issuer || '', placeholder: 'https://idp.example.com', required: true }),
      field('f-idp-client-id', 'Client id', { value: idp.client_id || '', required: true }),
      field('f-idp-secret-env', 'Client secret: environment variable', { value: (idp.client_secret && idp.client_secret.env) || '', placeholder: 'TENANT_IDP_SECRET' },
        'The name of an environment variable on the gateway holding the secret; never the secret itself. Empty: a public client.'),
      field('f-idp-scopes', 'Scopes', { value: (idp.scopes || ['openid', 'email', 'profile']).join(' ') }, 'Space separated; must include openid.'),
      field('f-idp-binding', 'Tenant binding', { tag: 'select', options: [['claim', 'A claim holds the tenant id'], ['group', 'A group names the tenant'], ['claim+group', 'Claim and group'], ['issuer', 'The IdP is dedicated to this tenant']] }),
      field('f-idp-claim', 'Binding claim', { value: (b && b.claim) || idp.tenant_claim || 'custom:tenantid' }),
      field('f-idp-group', 'Binding group prefix', { value: (b && b.group) || idp.tenant_group_prefix || '', placeholder: 'tenant-' }),
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save IdP' })));
    form.querySelector('#f-idp-kind').value = idp.kind || 'oidc';
    form.querySelector('#f-idp-binding').value = bindingKind;
    const sync = () => {
      const kind = form.querySelector('#f-idp-binding').value;
      form.querySelector('#f-idp-claim').closest('.field').hidden = !kind.includes('claim');
      form.querySelector('#f-idp-group').closest('.field').hidden = !kind.includes('group');
    };
    form.querySelector('#f-idp-binding').addEventListener('change', sync);
    sync();
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = (id) => form.querySelector(`#${id}`).value.trim();
      const body = {
        kind: v('f-idp-kind'),
        issuer: v('f-idp-issuer'),
        client_id: v('f-idp-client-id'),
        scopes: v('f-idp-scopes').split(/\s+/).filter(Boolean),
      };
      const env = v('f-idp-secret-env');
      if (env) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(env)) {
          setFieldError('f-idp-secret-env', 'An environment variable name (letters, digits, _), not the secret itself.');
          return;
        }
        body.client_secret = { env };
      }
      const kind = v('f-idp-binding');
      if (kind === 'issuer') body.tenant_binding = 'issuer';
      else {
        body.tenant_binding = {};
        if (kind.includes('claim')) body.tenant_binding.claim = v('f-idp-claim');
        if (kind.includes('group')) body.tenant_binding.group = v('f-idp-group');
      }
      // Keep what the form does not show.
      for (const k of ['discovery_url', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'end_session_endpoint',
        'identity_provider', 'accept_tokens', 'audiences', 'groups_claim', 'claim_headers', 'forward_token', 'managed']) {
        if (idp[k] !== undefined) body[k] = idp[k];
      }
      const r = await api('PUT', `/tenants/${encodeURIComponent(t.id)}/idp`, body);
      if (r.status === 200) route();
      else {
        showApiError(form, r, {
          idp: 'f-idp-issuer',
          'idp.kind': 'f-idp-kind',
          'idp.issuer': 'f-idp-issuer',
          'idp.discovery_url': 'f-idp-issuer',
          'idp.client_id': 'f-idp-client-id',
          'idp.client_secret': 'f-idp-secret-env',
          'idp.scopes': 'f-idp-scopes',
          'idp.tenant_binding': 'f-idp-binding',
          'idp.tenant_binding.claim': 'f-idp-claim',
          'idp.tenant_binding.group': 'f-idp-group',
        });
      }
    });
    return form;
  }

  function stopPolling() {
    if (poller) clearInterval(poller);
    poller = null;
  }

  function startPolling(seq, id) {
    stopPolling();
    let prev = null;
    const sum = (o) => Object.values(o || {}).reduce((a, b) => a + b, 0);
    const tick = async () => {
      if (seq !== renderSeq) { stopPolling(); return; }
      const r = await api('GET', `/tenants/${encodeURIComponent(id)}/metrics`);
      if (r.status !== 200 || seq !== renderSeq) return;
      const m = r.data;
      const by = m.requests_by_status || {};
      const now = { at: Date.parse(m.at) || Date.now(), total: sum(by), e5: by['5xx'] || 0, e4: by['4xx'] || 0 };
      const set = (elId, text) => { const el = document.getElementById(elId); if (el) el.textContent = text; };
      set('metric-total', `${now.total} (${Object.entries(by).map(([k, n]) => `${k}: ${n}`).join(', ') || 'none'})`);
      set('metric-limited', `${sum(m.limited_by_reason)}${Object.keys(m.limited_by_reason || {}).length ? ` (${Object.entries(m.limited_by_reason).map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`);
      if (prev && now.at > prev.at) {
        const dt = (now.at - prev.at) / 1000;
        const dn = Math.max(0, now.total - prev.total);
        set('metric-rate', `${(dn / dt).toFixed(2)} req/s`);
        set('metric-errors', dn ? `${((100 * Math.max(0, now.e5 - prev.e5)) / dn).toFixed(1)} %` : '0 % (no requests)');
        set('metric-4xx', dn ? `${((100 * Math.max(0, now.e4 - prev.e4)) / dn).toFixed(1)} %` : '0 % (no requests)');
        const host = document.getElementById('tenant-metrics');
        if (host) host.setAttribute('data-readings', String(Number(host.getAttribute('data-readings') || '1') + 1));
      }
      prev = now;
    };
    tick();
    poller = setInterval(tick, 3000);
  }

  // ---------------------------------------------------------------------------
  // Onboarding

  function renderOnboard() {
    const form = h('form', { id: 'onboard-form', class: 'card narrow', novalidate: true },
      h('h1', { text: 'Onboard a tenant' }),
      field('f-name', 'Tenant name', { required: true, autocomplete: 'organization' }),
      field('f-subdomain', 'Subdomain', { required: true, autocapitalize: 'none', spellcheck: 'false' }, 'Lowercase letters, digits and hyphens; the tenant answers at <subdomain>.<base domain>.'),
      field('f-email-domain', 'Email domain (optional)', { placeholder: 'example.com' }),
      field('f-email', 'Administrator email (optional)', { type: 'email', autocomplete: 'off' }),
      field('f-tier', 'Tier (optional)', { placeholder: 'basic', list: 'onboard-tiers' }),
      h('datalist', { id: 'onboard-tiers' }, ['basic', 'standard', 'premium'].map((t) => h('option', { value: t }))),
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'onboard-submit', class: 'btn btn-primary', text: 'Onboard' })));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const v = (id) => form.querySelector(`#${id}`).value.trim();
      let missing = false;
      if (!v('f-name')) { setFieldError('f-name', 'Enter a name.'); missing = true; }
      if (!v('f-subdomain')) { setFieldError('f-subdomain', 'Enter a subdomain.'); missing = true; }
      if (missing) { form.querySelector('[aria-invalid="true"]').focus(); return; }
      const body = { tenantName: v('f-name'), tenantSubDomain: v('f-subdomain') };
      if (v('f-email-domain')) body.tenantEmailDomain = v('f-email-domain');
      if (v('f-email')) body.emailId = v('f-email');
      if (v('f-tier')) body.tier = v('f-tier');
      const submit = form.querySelector('#onboard-submit');
      submit.disabled = true;
      const r = await api('POST', '/tenants', body);
      submit.disabled = false;
      if (r.status === 201 && r.data && r.data.id) {
        location.hash = `#/tenants/${encodeURIComponent(r.data.id)}`;
        return;
      }
      showApiError(form, r, {
        name: 'f-name',
        subdomain: 'f-subdomain',
        email_domain: 'f-email-domain',
        admin_email: 'f-email',
        tier: 'f-tier',
      }, 'f-subdomain');
    });
    show(form);
    form.querySelector('#f-name').focus();
  }

  // ---------------------------------------------------------------------------
  // Certificates, pools, reloads, fleet

  async function renderCerts(seq) {
    const data = await load('/certs');
    if (!data || seq !== renderSeq) return;
    show(h('h1', { text: 'Certificates' }),
      section('Hosts (on-demand ACME)', table(null, ['Host', 'State', 'Source', 'Issuer', 'Expires', 'Failures', 'Last error', 'Next retry'],
        (data.hosts || []).map((x) => [x.host, badge(x.status, x.status), x.source, x.issuer, x.not_after, x.failures,
          x.last_error, x.retry_in_seconds === null || x.retry_in_seconds === undefined ? '—' : `in ${x.retry_in_seconds} s`]),
        'No ACME hosts (on-demand certificates are off or none was requested yet).')),
      section('Certificates served', table(null, ['Names', 'Source', 'Issuer', 'Valid from', 'Expires', 'State'],
        (data.certificates || []).map((c) => [c.names, c.source, c.issuer, c.not_before, c.not_after,
          badge(c.valid ? 'valid' : 'expired', c.valid ? 'valid' : 'failing')]),
        'No certificates: the gateway serves plain HTTP only.')));
  }

  async function renderPools(seq) {
    const data = await load('/status');
    if (!data || seq !== renderSeq) return;
    show(h('h1', { text: 'Pools and backends' }),
      (data.pools || []).length ? (data.pools || []).map((p) => section(`Pool ${p.name}`,
        table(null, ['Backend', 'Health'], (p.backends || []).map((b) => [
          typeof b === 'object' ? (b.addr || JSON.stringify(b)) : b,
          typeof b === 'object' && 'healthy' in b ? badge(b.healthy ? 'healthy' : 'down', b.healthy ? 'valid' : 'failing') : '—',
        ]), 'No backends.'))) : h('p', { class: 'muted', text: 'No pools.' }));
  }

  async function renderReloads(seq) {
    const data = await load('/reloads');
    if (!data || seq !== renderSeq) return;
    const kind = { applied: 'valid', unchanged: 'pending', rejected: 'failing' };
    show(h('h1', { text: 'Recent reloads' }),
      table(null, ['When', 'Trigger', 'Result', 'Generation', 'Issues'], (data.reloads || []).map((r) => [
        r.at, r.trigger, badge(r.result, kind[r.result] || r.result), r.generation,
        (r.issues || []).length ? h('ul', { class: 'issues' }, r.issues.map((i) => h('li', { text: i }))) : '—',
      ]), 'No reloads since the gateway started.'));
  }

  async function renderFleet(seq) {
    const data = await load('/status');
    if (!data || seq !== renderSeq) return;
    const s = data.store;
    show(h('h1', { text: 'Fleet' }),
      section('This node', dl([
        ['Generation', data.generation],
        ['Loaded at', data.loaded_at],
        ['Configuration', data.config],
        ['Tenants', data.tenants ? Object.entries(data.tenants).map(([k, n]) => `${n} ${k}`).join(', ') : '—'],
      ])),
      section('Tenant store', s ? dl([
        ['Source', s.source],
        ['Health', badge(s.healthy ? 'healthy' : 'unhealthy', s.healthy ? 'valid' : 'failing')],
        ['Sequence', s.sequence],
        ['Tenants held', s.tenants],
        ['Last success', s.last_success],
        ['Last error', s.last_error],
        ['Rejected', s.rejected],
      ]) : h('p', { id: 'fleet-file', text: 'File store: this node reads its tenants from a local file (no shared fleet store).' })));
  }

  // ---------------------------------------------------------------------------
  // Routing

  async function route() {
    const seq = ++renderSeq;
    stopPolling();
    if (!csrf) {
      const r = await api('GET', '/ui/session');
      if (seq !== renderSeq) return;
      if (r.status === 200 && r.data && r.data.csrf) {
        csrf = r.data.csrf;
      } else {
        signedOut();
        return;
      }
    }
    signedIn(true);
    const parts = (location.hash.replace(/^#\/?/, '') || 'tenants').split('/');
    const sectionName = parts[0];
    nav.querySelectorAll('a').forEach((a) => {
      if (a.dataset.section === sectionName) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    });
    document.title = `${sectionName} · tenant-gateway console`;
    switch (sectionName) {
      case 'tenants':
        if (parts[1]) await renderTenant(seq, decodeURIComponent(parts[1]));
        else await renderTenants(seq);
        break;
      case 'onboard': renderOnboard(); break;
      case 'certs': await renderCerts(seq); break;
      case 'pools': await renderPools(seq); break;
      case 'reloads': await renderReloads(seq); break;
      case 'fleet': await renderFleet(seq); break;
      default: show(banner('No such page.'), h('a', { href: '#/tenants', text: 'Tenants' }));
    }
    if (seq === renderSeq) view.setAttribute('data-page', sectionName);
  }

  window.addEventListener('hashchange', () => {
    view.removeAttribute('data-page');
    route();
  });
  route();
}());
