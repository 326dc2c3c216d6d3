/** Small, self-contained HTML pages for errors and sign-out. No scripts, no external assets. */

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface PageContent {
  status: number;
  title: string;
  message: string;
  requestId: string;
  link?: { href: string; text: string } | undefined;
  /** A field-less POST button; the page stays script-free. */
  form?: { action: string; button: string } | undefined;
}

export function renderPage(p: PageContent): string {
  const link = p.link
    ? `<p><a class="button" href="${escapeHtml(p.link.href)}">${escapeHtml(p.link.text)}</a></p>`
    : '';
  const form = p.form
    ? `<form method="post" action="${escapeHtml(p.form.action)}"><button class="button" type="submit">${escapeHtml(p.form.button)}</button></form>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(p.title)} · Gatehouse</title>
<style>
body{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1d2330;margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}
main{background:#fff;max-width:34rem;padding:2rem 2.5rem;border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:1.35rem;margin-top:0}
.status{color:#6b7280;font-size:.9rem}
.button{display:inline-block;background:#2456d3;color:#fff;padding:.55rem 1.1rem;border-radius:6px;text-decoration:none;border:0;font:inherit;cursor:pointer}
.rid{color:#6b7280;font-size:.8rem;word-break:break-all}
</style>
</head>
<body>
<main>
<p class="status">Error ${p.status < 400 ? '' : p.status}</p>
<h1>${escapeHtml(p.title)}</h1>
<p>${escapeHtml(p.message)}</p>
${form}${link}
<p class="rid">Request id: <code>${escapeHtml(p.requestId)}</code></p>
</main>
</body>
</html>
`.replace('<p class="status">Error </p>\n', '');
}

export const TITLES: Record<number, string> = {
  400: 'Sign-in failed',
  401: 'Sign-in required',
  403: 'Access denied',
  429: 'Too many attempts',
  500: 'Something went wrong',
  502: 'Service unreachable',
  503: 'Temporarily unavailable',
};
