"""Realistic stand-in pages for screenshots: an intranet portal and Atlassian Administration's org overview.

Both follow the reader's colour scheme (prefers-color-scheme); the admin page also sets
html[data-color-mode], as Atlassian's own pages do.
"""
from __future__ import annotations

INTRANET = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Acme IT portal</title>
<style>
  :root { color-scheme: light dark; --bg: #f4f5f7; --card: #fff; --text: #1f2933; --muted: #52606d; --line: #d9dee3; }
  @media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --card: #161b22; --text: #e6edf3;
    --muted: #8b949e; --line: #30363d; } }
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; align-items: center; gap: 24px; height: 60px; padding: 0 24px; background: #123c69;
    color: #fff; }
  header strong { font-size: 18px; }
  header nav { display: flex; gap: 18px; font-size: 14px; flex-wrap: wrap; overflow: hidden; height: 22px; }
  main { max-width: 1100px; margin: 0 auto; padding: 24px; }
  h1 { font-size: 26px; margin: 0 0 16px; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 16px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; }
  .card h2 { font-size: 16px; margin: 0 0 6px; }
  .card p { margin: 0; color: var(--muted); font-size: 14px; }
</style></head>
<body>
<header><strong>Acme IT</strong><nav><span>Home</span><span>Service desk</span><span>Access requests</span>
<span>Knowledge base</span><span>Status</span></nav></header>
<main>
  <h1>Good morning, Priya</h1>
  <div class="grid">
    <div class="card"><h2>Open tickets</h2><p>14 assigned to Identity &amp; Access, 3 breaching SLA today.</p></div>
    <div class="card"><h2>Joiners this week</h2><p>23 accounts to provision in Okta and Entra ID.</p></div>
    <div class="card"><h2>Leavers this week</h2><p>9 accounts to deprovision; Jira access must end on day one.</p></div>
    <div class="card"><h2>Change calendar</h2><p>Freeze from 18 Dec. Next CAB Thursday 10:00.</p></div>
    <div class="card"><h2>Atlassian Cloud</h2><p>acme.atlassian.net · 1,284 managed accounts.</p></div>
    <div class="card"><h2>On call</h2><p>Identity: Sam Lee. Network: Ana Ruiz.</p></div>
  </div>
</main>
</body></html>"""

ADMIN_OVERVIEW = """<!doctype html>
<html lang="en" data-color-mode="light"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Overview - Atlassian Administration</title>
<script>
  if (matchMedia("(prefers-color-scheme: dark)").matches) document.documentElement.dataset.colorMode = "dark";
</script>
<style>
  :root { color-scheme: light; --bg: #fff; --text: #172b4d; --muted: #44546f; --line: #dcdfe4; --nav: #f7f8f9;
    --sel: #e9f2ff; --link: #0c66e4; }
  html[data-color-mode=dark] { color-scheme: dark; --bg: #1d2125; --text: #b6c2cf; --muted: #9fadbc; --line: #38414a;
    --nav: #22272b; --sel: #1c2b41; --link: #579dff; }
  body { margin: 0; font: 14px/20px system-ui, sans-serif; background: var(--bg); color: var(--text); }
  .top { position: sticky; top: 0; display: flex; align-items: center; gap: 16px; height: 56px; padding: 0 16px;
    background: var(--bg); border-bottom: 1px solid var(--line); box-sizing: border-box; }
  .logo { display: flex; align-items: center; gap: 8px; font-weight: 600; font-size: 16px; }
  .logo i { width: 20px; height: 20px; background: var(--link); clip-path: polygon(50% 0, 100% 100%, 0 100%); }
  .org { padding: 4px 8px; border-radius: 3px; background: var(--nav); }
  .search { margin-left: auto; width: 260px; height: 30px; border: 1px solid var(--line); border-radius: 3px; }
  .avatar { width: 28px; height: 28px; border-radius: 50%; background: #1f845a; color: #fff; font-size: 11px;
    display: grid; place-items: center; }
  .layout { display: flex; }
  nav { width: 240px; flex: none; padding: 12px 8px; border-right: 1px solid var(--line); min-height: 800px;
    box-sizing: border-box; }
  nav a { display: block; padding: 6px 12px; border-radius: 3px; color: var(--text); text-decoration: none; }
  nav a.on { background: var(--sel); color: var(--link); }
  nav h3 { font-size: 11px; text-transform: uppercase; color: var(--muted); margin: 16px 12px 4px; }
  main { flex: 1; padding: 24px 40px; }
  .crumb { color: var(--muted); }
  h1 { font-size: 24px; font-weight: 500; margin: 8px 0 24px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)); gap: 16px; }
  .card { border: 1px solid var(--line); border-radius: 4px; padding: 16px 20px; box-shadow: 0 1px 1px #091e4240; }
  .card h2 { font-size: 16px; margin: 0 0 8px; }
  .card b { font-size: 28px; display: block; margin-bottom: 8px; }
  @media (max-width: 700px) { nav, .search { display: none; } main { padding: 16px; } }
</style></head>
<body>
<div class="top"><span class="logo"><i></i>Administration</span><span class="org">Acme Corporation</span>
<span class="search"></span><span class="avatar">PS</span></div>
<div class="layout">
<nav><a class="on" href="#">Overview</a><a href="#">Directory</a><a href="#">Apps</a><a href="#">Security</a>
<h3>Security</h3><a href="#">Identity providers</a><a href="#">Authentication policies</a><a href="#">User security</a>
<a href="#">Billing</a><a href="#">Settings</a></nav>
<main><div class="crumb">Acme Corporation</div><h1>Overview</h1>
<div class="cards">
  <div class="card"><h2>Managed accounts</h2><b>1,284</b>Verified domain acme.example</div>
  <div class="card"><h2>Identity providers</h2><b>4</b>Okta, Microsoft Entra ID, Google Workspace, OneLogin</div>
  <div class="card"><h2>Atlassian Guard</h2>Audit log, user provisioning, authentication policies</div>
  <div class="card"><h2>Apps</h2>Jira · Confluence · Jira Service Management</div>
</div></main></div>
</body></html>"""
