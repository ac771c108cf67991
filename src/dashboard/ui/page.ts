/**
 * The dashboard's single HTML page. Every dynamic part is filled by
 * `ui/app.js` with DOM calls (no innerHTML with data), so nothing here is
 * ever built from user input.
 */

function escapeAttr (value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')
}

/** The page, with asset URLs under `prefix` (e.g. `/dashboard`). */
export function pageHtml (prefix: string): string {
  const p = escapeAttr(prefix)
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Workspace storage</title>
<link rel="stylesheet" href="${p}/style.css">
<script type="module" src="${p}/ui/app.js"></script>
<script type="module" src="${p}/ui/folders.js"></script>
</head>
<body data-prefix="${p}">
<header class="top">
  <h1>Workspace storage</h1>
  <div class="top-right" id="session-bar" hidden>
    <label>Workspace <select id="workspace-select" aria-label="Workspace"></select></label>
    <span id="live" class="live" title="Live updates">offline</span>
    <button type="button" id="logout" class="link">Log out</button>
  </div>
</header>

<div id="error" class="error" role="alert" hidden>
  <span id="error-text"></span>
  <button type="button" id="error-close" class="link" aria-label="Dismiss">✕</button>
</div>

<main>
<section id="login-view" hidden>
  <form id="login-form" class="card login">
    <h2>Log in</h2>
    <p>Paste the orchestrator's admin token, or the member token of your workspace.</p>
    <label for="login-token">Token</label>
    <input id="login-token" name="token" type="password" autocomplete="current-password" required>
    <button type="submit">Log in</button>
  </form>
</section>

<section id="no-workspace-view" class="card empty" hidden>
  <h2>No workspace yet</h2>
  <p>Create a workspace on the orchestrator (<code>POST /api/workspaces</code> with the admin token), add storage nodes to it, then reload this page.</p>
</section>

<section id="workspace-view" hidden>
  <nav class="tabs" aria-label="Views">
    <a id="tab-storage" href="#">Storage</a>
    <span id="tab-node-sep" hidden>›</span>
    <a id="tab-node" href="#" hidden></a>
  </nav>

  <div id="storage-tab">
    <div class="summary">
      <div class="card stat"><div class="label">Used</div><div class="value" id="total-used">—</div></div>
      <div class="card stat"><div class="label">Quota</div><div class="value" id="total-quota">—</div></div>
      <div class="card stat"><div class="label">Free</div><div class="value" id="total-free">—</div></div>
      <div class="card stat"><div class="label">Nodes online</div><div class="value" id="nodes-online">—</div></div>
    </div>

    <div class="card">
      <h2>Usage</h2>
      <div id="usage-bars" class="bars"></div>
      <div id="no-nodes" class="empty" hidden>
        <p><strong>No storage nodes in this workspace.</strong> Start a node runner on a machine with spare disk
        (<code>npx otherthing-storage --orchestrator &lt;url&gt; --token &lt;node token&gt;</code>), then add the node to this workspace.
        Its storage appears here as soon as it connects.</p>
      </div>
    </div>

    <div class="card actions">
      <form id="upload-form">
        <h2>Upload a file</h2>
        <input id="upload-file" type="file" required aria-label="File to upload">
        <label>Copies <input id="upload-replication" type="number" min="1" max="64" value="2"></label>
        <button type="submit" id="upload-button">Upload</button>
        <progress id="upload-progress" max="100" value="0" hidden></progress>
        <span id="upload-status" class="muted"></span>
      </form>
      <form id="pin-form">
        <h2>Pin by CID</h2>
        <input id="pin-cid" placeholder="bafy… or Qm…" required aria-label="CID to pin" spellcheck="false">
        <input id="pin-name" placeholder="name (optional)" aria-label="Name">
        <label>Copies <input id="pin-replication" type="number" min="1" max="64" value="2"></label>
        <button type="submit">Pin</button>
      </form>
    </div>

    <div class="card actions">
      <form id="folder-upload-form">
        <h2>Upload a folder</h2>
        <input id="folder-input" type="file" webkitdirectory multiple required aria-label="Folder to upload">
        <label>Copies <input id="folder-replication" type="number" min="1" max="64" value="2"></label>
        <button type="submit" id="folder-upload-button">Upload folder</button>
        <progress id="folder-progress" max="100" value="0" hidden></progress>
        <span id="folder-status" class="muted"></span>
      </form>
      <form id="browse-form">
        <h2>Browse a folder</h2>
        <input id="browse-cid" placeholder="CID of a pinned folder" required aria-label="CID of the folder to browse" spellcheck="false">
        <button type="submit">Browse</button>
      </form>
    </div>

    <div class="card" id="browse-card" hidden>
      <h2>Folder <span id="browse-path" class="mono"></span></h2>
      <p><a id="browse-up" href="#">↑ up</a> · <a id="browse-tar" href="#" download>Download this folder (.tar)</a></p>
      <table id="browse-table">
        <thead><tr><th>Name</th><th>Size</th><th></th></tr></thead>
        <tbody id="browse-body"></tbody>
      </table>
    </div>

    <div class="card">
      <h2>Pinned content</h2>
      <table id="pins-table" hidden>
        <thead><tr><th>Name</th><th>CID</th><th>Size</th><th>Copies</th><th>Nodes</th><th></th></tr></thead>
        <tbody id="pins-body"></tbody>
      </table>
      <div id="pins-empty" class="empty" hidden>
        <p><strong>Nothing pinned yet.</strong> Upload a file above, or pin a CID that a node of this workspace already has.
        Each item is copied to as many nodes as you ask for, and re-copied if a node goes away.</p>
      </div>
    </div>
  </div>

  <div id="node-tab" hidden>
    <div class="card">
      <h2 id="node-title"></h2>
      <dl class="facts">
        <dt>Status</dt><dd id="node-status"></dd>
        <dt>Quota</dt><dd id="node-quota"></dd>
        <dt>Used</dt><dd id="node-used"></dd>
        <dt>Free</dt><dd id="node-free"></dd>
        <dt>Drive free</dt><dd id="node-drive-free"></dd>
        <dt>Pins</dt><dd id="node-pins"></dd>
        <dt>Peer id</dt><dd id="node-peer" class="mono"></dd>
      </dl>
      <div id="node-bar" class="bars"></div>
    </div>
    <div class="card actions">
      <form id="node-pin-form">
        <h2>Pin on this node</h2>
        <input id="node-pin-cid" placeholder="bafy… or Qm…" required aria-label="CID to pin on this node" spellcheck="false">
        <button type="submit">Pin here</button>
      </form>
    </div>
    <div class="card">
      <h2>Content on this node</h2>
      <table id="node-pins-table" hidden>
        <thead><tr><th>Name</th><th>CID</th><th>Size</th><th>State</th><th></th></tr></thead>
        <tbody id="node-pins-body"></tbody>
      </table>
      <div id="node-pins-empty" class="empty" hidden><p>This node holds no content of this workspace yet.</p></div>
    </div>
  </div>
</section>
</main>
</body>
</html>
`
}
