// The extension's client code against a stub of the `vscode` API: where it finds qapc, what it
// starts, what it says when qapc is missing, restarts. The last test starts the server command the
// extension built and speaks LSP to it with vscode-jsonrpc (the client library's own transport).
//
// QAPC (optional): the real qapc executable for that last test; default: ../../.venv/bin/qapc.
'use strict';

const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const test = require('node:test');

// -- the stub ---------------------------------------------------------------------------------------------

const calls = { errors: [], commands: [], clients: [], watchers: [], executed: [], outputs: [] };
const state = { folders: [], settings: {}, errorChoice: undefined, startFails: null, configListeners: [] };

class FakeClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, started: false, stopped: false });
    calls.clients.push(this);
  }
  async start() {
    if (state.startFails) throw new Error(state.startFails);
    this.started = true;
  }
  async stop() {
    this.stopped = true;
  }
}

const vscodeStub = {
  workspace: {
    get workspaceFolders() {
      return state.folders.map((f) => ({ uri: { scheme: 'file', fsPath: f } }));
    },
    getConfiguration: (section) => ({ get: (key) => state.settings[`${section}.${key}`] }),
    createFileSystemWatcher: (glob) => {
      calls.watchers.push(glob);
      return { glob, dispose() {} };
    },
    onDidChangeConfiguration: (listener) => {
      state.configListeners.push(listener);
      return { dispose() {} };
    },
  },
  window: {
    createOutputChannel: (name) => {
      const channel = { name, lines: [], appendLine(l) { this.lines.push(l); }, dispose() {} };
      calls.outputs.push(channel);
      return channel;
    },
    showErrorMessage: (message, ...items) => {
      calls.errors.push({ message, items });
      return Promise.resolve(state.errorChoice);
    },
  },
  commands: {
    registerCommand: (name, fn) => {
      calls.commands.push({ name, fn });
      return { dispose() {} };
    },
    executeCommand: (...args) => {
      calls.executed.push(args);
      return Promise.resolve();
    },
  },
};

const realLoad = Module._load;
Module._load = function load(request, parent, isMain) {
  if (request === 'vscode') return vscodeStub;
  if (request === 'vscode-languageclient/node') return { LanguageClient: FakeClient };
  return realLoad.call(this, request, parent, isMain);
};
const extension = require('../extension.js');

function reset() {
  for (const list of Object.values(calls)) list.length = 0;
  Object.assign(state, { folders: [], settings: {}, errorChoice: undefined, startFails: null, configListeners: [] });
}

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qap-ext-'));
}

function fakeExe(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(file, 0o755);
  return file;
}

function context() {
  return { subscriptions: [] };
}

// -- finding qapc -----------------------------------------------------------------------------------------

test('findServer: the setting, then the workspace .venv, then PATH', () => {
  const ws = tmpdir();
  const onPath = tmpdir();
  const venv = fakeExe(path.join(ws, '.venv', 'bin', 'qapc'));
  const other = fakeExe(path.join(onPath, 'qapc'));
  const configured = fakeExe(path.join(ws, 'tools', 'qapc'));
  const env = { PATH: [path.join(ws, 'nothing'), onPath].join(path.delimiter) };
  const platform = 'linux';

  assert.deepEqual(extension.findServer({ configured: 'tools/qapc', folders: [ws], env, platform }), { command: configured, source: 'the qap.server.path setting' });
  assert.equal(extension.findServer({ configured: '${workspaceFolder}/tools/qapc', folders: [ws], env, platform }).command, configured);
  assert.equal(extension.findServer({ configured: '', folders: [ws], env, platform }).command, venv);
  assert.equal(extension.findServer({ folders: [ws], env, platform }).source, "the workspace's .venv");
  assert.deepEqual(extension.findServer({ folders: [], env, platform }), { command: other, source: 'PATH' });
  assert.equal(extension.findServer({ folders: [], env: { PATH: '' }, platform }), null);
  const missing = extension.findServer({ configured: '/no/such/qapc', folders: [ws], env, platform });
  assert.match(missing.error, /qap\.server\.path is set to '\/no\/such\/qapc'/);
  // a file that is not executable is not a server
  const plain = path.join(tmpdir(), 'qapc');
  fs.writeFileSync(plain, '');
  assert.equal(extension.findServer({ folders: [], env: { PATH: path.dirname(plain) }, platform }), null);
});

// -- activation -------------------------------------------------------------------------------------------

test('activate starts `qapc lsp` from the workspace .venv for qap documents', async () => {
  reset();
  const ws = tmpdir();
  const exe = fakeExe(path.join(ws, '.venv', 'bin', 'qapc'));
  state.folders = [ws];
  state.settings['qap.server.args'] = ['--log-file', '/tmp/x.log'];
  const ctx = context();
  await extension.activate(ctx);
  assert.equal(calls.clients.length, 1);
  const client = calls.clients[0];
  assert.equal(client.started, true);
  assert.equal(client.id, 'qap');
  assert.deepEqual(client.serverOptions, { command: exe, args: ['lsp', '--log-file', '/tmp/x.log'], options: { cwd: ws } });
  assert.deepEqual(client.clientOptions.documentSelector, [
    { scheme: 'file', language: 'qap' },
    { scheme: 'untitled', language: 'qap' },
  ]);
  assert.deepEqual(calls.watchers, ['**/*.qap']);
  assert.deepEqual(calls.errors, []);
  assert.ok(calls.commands.some((c) => c.name === 'qap.restartServer'));
  assert.match(calls.outputs[0].lines.join('\n'), /found through the workspace's \.venv/);
  await extension.deactivate();
  assert.equal(client.stopped, true);
});

test('without qapc: an error that says what to do, a button to the setting, and no client', async () => {
  reset();
  const saved = process.env.PATH;
  process.env.PATH = tmpdir();
  try {
    state.folders = [tmpdir()];
    state.errorChoice = 'Open Settings';
    await extension.activate(context());
  } finally {
    process.env.PATH = saved;
  }
  assert.equal(calls.clients.length, 0);
  assert.equal(calls.errors.length, 1);
  assert.match(calls.errors[0].message, /cannot find qapc/);
  assert.match(calls.errors[0].message, /pip install 'qapc\[lsp\]'/);
  assert.match(calls.errors[0].message, /qap\.server\.path/);
  assert.deepEqual(calls.errors[0].items, ['Open Settings']);
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(calls.executed, [['workbench.action.openSettings', 'qap.server.path']]);
});

test('a server that does not start is reported with the command', async () => {
  reset();
  const ws = tmpdir();
  const exe = fakeExe(path.join(ws, '.venv', 'bin', 'qapc'));
  state.folders = [ws];
  state.startFails = 'exited with code 2';
  await extension.activate(context());
  assert.equal(calls.errors.length, 1);
  assert.ok(calls.errors[0].message.includes(`'${exe} lsp' did not start (exited with code 2)`));
});

test('the restart command and a change of the server settings start a new client', async () => {
  reset();
  const ws = tmpdir();
  fakeExe(path.join(ws, '.venv', 'bin', 'qapc'));
  const configured = fakeExe(path.join(ws, 'elsewhere', 'qapc'));
  state.folders = [ws];
  await extension.activate(context());
  const restart = calls.commands.find((c) => c.name === 'qap.restartServer').fn;
  await restart();
  assert.equal(calls.clients.length, 2);
  assert.equal(calls.clients[0].stopped, true);
  state.settings['qap.server.path'] = configured;
  for (const listener of state.configListeners) listener({ affectsConfiguration: (s) => s === 'qap.server' });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(calls.clients.length, 3);
  assert.equal(calls.clients[2].serverOptions.command, configured);
  for (const listener of state.configListeners) listener({ affectsConfiguration: () => false });
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(calls.clients.length, 3);
  await extension.deactivate();
});

// -- the command it builds starts a real server -------------------------------------------------------------

const QAPC = process.env.QAPC || path.resolve(__dirname, '..', '..', '..', '.venv', 'bin', 'qapc');

test('the server command the extension builds speaks LSP', { skip: fs.existsSync(QAPC) ? false : `no qapc at ${QAPC}` }, async () => {
  reset();
  const ws = tmpdir();
  fs.mkdirSync(path.join(ws, '.venv', 'bin'), { recursive: true });
  fs.symlinkSync(QAPC, path.join(ws, '.venv', 'bin', 'qapc'));
  state.folders = [ws];
  await extension.activate(context());
  const { command, args, options } = calls.clients[0].serverOptions;
  const rpc = require('vscode-jsonrpc/node');
  const child = cp.spawn(command, args, { cwd: options.cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = rpc.createMessageConnection(new rpc.StreamMessageReader(child.stdout), new rpc.StreamMessageWriter(child.stdin));
  const diagnostics = new Promise((resolve) => connection.onNotification('textDocument/publishDiagnostics', resolve));
  connection.listen();
  try {
    const init = await connection.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    assert.ok(init.capabilities.hoverProvider && init.capabilities.renameProvider && init.capabilities.documentSymbolProvider);
    connection.sendNotification('initialized', {});
    const uri = 'untitled:Untitled-1';
    const text = 'model m {\n    input 64\n    dense out 10 sofmax\n}\ntrain { data sklearn digits }\n';
    connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'qap', version: 1, text } });
    const published = await diagnostics;
    assert.equal(published.uri, uri);
    const typo = published.diagnostics.find((d) => d.code === 'E204');
    assert.ok(typo && /unknown activation 'sofmax'/.test(typo.message), JSON.stringify(published.diagnostics));
    await connection.sendRequest('shutdown');
    const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await connection.sendNotification('exit');
    assert.equal(await exited, 0);
  } finally {
    connection.dispose();
    child.kill();
    await extension.deactivate();
  }
});
