/** The dashboard's stylesheet (system fonts, no external resources). */
export const STYLE_CSS = `
:root { --bg: #f5f6f8; --card: #fff; --text: #1d2330; --muted: #667085; --line: #e3e6ec;
  --accent: #2f6fed; --ok: #1f9d55; --warn: #d98a00; --bad: #d64545; --used: #2f6fed; --free: #e8edf7; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header.top { display: flex; align-items: center; justify-content: space-between; padding: 10px 20px; background: #1d2330; color: #fff; }
header.top h1 { font-size: 17px; margin: 0; font-weight: 600; }
.top-right { display: flex; gap: 14px; align-items: center; }
.top-right select { margin-left: 6px; }
main { max-width: 1100px; margin: 0 auto; padding: 16px 20px 40px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 14px; }
.card h2 { font-size: 15px; margin: 0 0 10px; }
.summary { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; }
.stat .label { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.stat .value { font-size: 22px; font-weight: 600; }
.bars .row { display: grid; grid-template-columns: 190px 1fr 230px; gap: 10px; align-items: center; margin: 6px 0; }
.bars .row.total { font-weight: 600; border-bottom: 1px solid var(--line); padding-bottom: 8px; margin-bottom: 10px; }
.bar { height: 14px; background: var(--free); border-radius: 7px; overflow: hidden; }
.bar > span { display: block; height: 100%; background: var(--used); }
.bar.high > span { background: var(--warn); }
.bar.full > span { background: var(--bad); }
.bars .figures { color: var(--muted); font-variant-numeric: tabular-nums; text-align: right; }
.dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 6px; background: var(--muted); }
.dot.on { background: var(--ok); }
.actions { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
.actions form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.actions form h2 { flex-basis: 100%; }
#node-tab .actions { grid-template-columns: 1fr; }
input, select, button { font: inherit; }
input[type=number] { width: 60px; }
input:not([type]), input[type=password] { padding: 5px 8px; border: 1px solid var(--line); border-radius: 5px; min-width: 220px; }
button { padding: 5px 12px; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 5px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: #fff; color: var(--bad); border-color: var(--bad); }
button.link { background: none; border: none; color: inherit; text-decoration: underline; padding: 0; }
button:disabled { opacity: .5; cursor: default; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 7px 6px; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 500; font-size: 12px; }
td.num { font-variant-numeric: tabular-nums; }
td.buttons { text-align: right; white-space: nowrap; }
td.buttons button { margin-left: 6px; }
.mono, .cid { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.state { display: inline-block; padding: 1px 7px; margin: 1px 4px 1px 0; border-radius: 9px; font-size: 12px; background: #eef0f4; }
.state.pinned { background: #e3f6ea; color: var(--ok); }
.state.pinning, .state.queued { background: #fff4de; color: var(--warn); }
.state.failed { background: #fde8e8; color: var(--bad); }
.state.unpinning { background: #eef0f4; color: var(--muted); }
.health-under-replicated, .health-failed { color: var(--bad); }
.error { max-width: 1100px; margin: 12px auto 0; padding: 10px 14px; background: #fde8e8; color: #8a1f1f; border: 1px solid #f3b9b9; border-radius: 8px; display: flex; justify-content: space-between; gap: 10px; }
.error[hidden] { display: none; }
.empty { color: var(--muted); }
.muted { color: var(--muted); }
.login { max-width: 420px; margin: 40px auto; display: flex; flex-direction: column; gap: 8px; }
.tabs { margin-bottom: 12px; display: flex; gap: 8px; }
.tabs a { color: var(--accent); text-decoration: none; font-weight: 600; }
.live { font-size: 12px; padding: 1px 8px; border-radius: 9px; background: #444b5a; }
.live.on { background: var(--ok); }
dl.facts { display: grid; grid-template-columns: 120px 1fr; gap: 4px 12px; margin: 0 0 12px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
a.node-link { color: inherit; }
[hidden] { display: none !important; }
`
