// The QAP extension: colours (TextMate grammar, no code) and the language server `qapc lsp`
// through vscode-languageclient: diagnostics as you type, hover, completion, formatting, go to
// definition, references, rename, quick fixes and the outline.
//
// `qapc` is looked for in this order: the `qap.server.path` setting, the workspace's virtual
// environment (.venv/bin/qapc, venv/bin/qapc; Scripts\qapc.exe on Windows), then PATH. When it is
// not found the extension says so, with a button to the setting, and colours files all the same.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vscode = require('vscode');
const { LanguageClient } = require('vscode-languageclient/node');

const SETTING = 'qap.server.path';
const INSTALL_HINT = "install qapc with the language-server extra (pip install 'qapc[lsp]') in the workspace's .venv or on PATH, or set qap.server.path";

let client;
let output;

function isExecutable(file) {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function executableNames(platform) {
  return platform === 'win32' ? ['qapc.exe', 'qapc.cmd', 'qapc'] : ['qapc'];
}

/**
 * Where `qapc` is: {command, source} or {error} (a configured path that is not there), or null.
 * @param {{configured?: string, folders: string[], env: NodeJS.ProcessEnv, platform?: string}} where
 */
function findServer({ configured, folders, env, platform = process.platform }) {
  if (configured && configured.trim()) {
    let file = configured.trim().replace(/^~(?=$|[\\/])/, os.homedir());
    if (folders.length) file = file.replace(/\$\{workspaceFolder\}/g, folders[0]);
    if (!path.isAbsolute(file) && folders.length) file = path.resolve(folders[0], file);
    if (isExecutable(file)) return { command: file, source: `the ${SETTING} setting` };
    return { error: `${SETTING} is set to '${configured}', but ${file} is not an executable file` };
  }
  const names = executableNames(platform);
  const bin = platform === 'win32' ? 'Scripts' : 'bin';
  for (const folder of folders) {
    for (const venv of ['.venv', 'venv']) {
      for (const name of names) {
        const file = path.join(folder, venv, bin, name);
        if (isExecutable(file)) return { command: file, source: `the workspace's ${venv}` };
      }
    }
  }
  for (const dir of (env.PATH || env.Path || '').split(path.delimiter)) {
    if (!dir) continue;
    for (const name of names) {
      const file = path.join(dir, name);
      if (isExecutable(file)) return { command: file, source: 'PATH' };
    }
  }
  return null;
}

function workspaceFolders() {
  return (vscode.workspace.workspaceFolders || []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

function log(message) {
  if (output) output.appendLine(message);
}

async function start() {
  const config = vscode.workspace.getConfiguration('qap');
  const found = findServer({ configured: config.get('server.path'), folders: workspaceFolders(), env: process.env });
  if (!found || found.error) {
    const message = found ? `QAP: ${found.error}.` : `QAP: cannot find qapc, so there are colours but no diagnostics, hover or formatting: ${INSTALL_HINT}.`;
    log(message);
    vscode.window.showErrorMessage(message, 'Open Settings').then((choice) => {
      if (choice === 'Open Settings') vscode.commands.executeCommand('workbench.action.openSettings', SETTING);
    });
    return undefined;
  }
  const args = ['lsp', ...(config.get('server.args') || [])];
  log(`starting ${found.command} ${args.join(' ')} (found through ${found.source})`);
  const serverOptions = { command: found.command, args, options: { cwd: workspaceFolders()[0] } };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'qap' },
      { scheme: 'untitled', language: 'qap' },
    ],
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.qap') },
    outputChannel: output,
  };
  const created = new LanguageClient('qap', 'QAP language server (qapc lsp)', serverOptions, clientOptions);
  client = created;
  try {
    await created.start();
  } catch (err) {
    client = undefined;
    const message = `QAP: '${found.command} lsp' did not start (${err && err.message ? err.message : err}); ${INSTALL_HINT}.`;
    log(message);
    vscode.window.showErrorMessage(message);
    return undefined;
  }
  return created;
}

async function stop() {
  const running = client;
  client = undefined;
  if (running) await running.stop();
}

async function restart() {
  await stop();
  return start();
}

async function activate(context) {
  output = vscode.window.createOutputChannel('QAP');
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand('qap.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('qap.server')) restart();
    }),
    { dispose: () => stop() },
  );
  await start();
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate, findServer, restart };
