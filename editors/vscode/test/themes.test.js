// Names are coloured in the themes people use: VS Code's own tokenizer (vscode-textmate with
// Oniguruma) and the themes' own token colours (tm-themes) give each name of a spec its colour,
// as VS Code does; a name left in the theme's default foreground is not coloured.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const test = require('node:test');
const vsctm = require('vscode-textmate');
const oniguruma = require('vscode-oniguruma');

const GRAMMAR = path.join(__dirname, '..', 'syntaxes', 'qap.tmLanguage.json');
const THEMES = ['dark-plus', 'light-plus', 'monokai', 'one-dark-pro', 'solarized-dark', 'solarized-light', 'dracula'];
const FOREGROUND_MASK = 16744448; // vscode-textmate MetadataConsts
const FOREGROUND_OFFSET = 15;

const SPEC = [
  'model jet_tagger {',
  '    input 16',
  '    dense fc1 64 relu { batchnorm }',
  '    conv2d c1 8 relu kernel 3',
  '}',
  'model small from jet_tagger {',
  '    layer fc1 { reuse 2 }',
  '    remove c1',
  '}',
];

// [line, word, nth occurrence on the line, what it is]
const NAMES = [
  [0, 'jet_tagger', 'model declaration'],
  [2, 'fc1', 'layer declaration (dense)'],
  [3, 'c1', 'layer declaration (conv2d)'],
  [5, 'small', 'model declaration (derived)'],
  [5, 'jet_tagger', 'base model'],
  [6, 'fc1', 'layer use (layer)'],
  [7, 'c1', 'layer use (remove)'],
];

let onigLib;
function onig() {
  if (!onigLib) {
    const wasm = fs.readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm')).buffer;
    onigLib = oniguruma.loadWASM(wasm).then(() => ({
      createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }));
  }
  return onigLib;
}

function rawTheme(name) {
  const theme = JSON.parse(fs.readFileSync(require.resolve(`tm-themes/themes/${name}.json`), 'utf8'));
  const colors = theme.colors || {};
  const base = { settings: { foreground: colors['editor.foreground'], background: colors['editor.background'] } };
  return { name, settings: [base, ...(theme.tokenColors || theme.settings || [])] };
}

async function colours(themeName) {
  const registry = new vsctm.Registry({
    onigLib: onig(),
    loadGrammar: async (scope) => (scope === 'source.qap' ? vsctm.parseRawGrammar(fs.readFileSync(GRAMMAR, 'utf8'), GRAMMAR) : null),
  });
  registry.setTheme(rawTheme(themeName));
  const grammar = await registry.loadGrammar('source.qap');
  const map = registry.getColorMap();
  let stack = vsctm.INITIAL;
  const lines = [];
  for (const line of SPEC) {
    const result = grammar.tokenizeLine2(line, stack);
    stack = result.ruleStack;
    const cells = new Array(line.length);
    for (let i = 0; i < result.tokens.length; i += 2) {
      const start = result.tokens[i];
      const end = i + 2 < result.tokens.length ? result.tokens[i + 2] : line.length;
      const colour = map[(result.tokens[i + 1] & FOREGROUND_MASK) >>> FOREGROUND_OFFSET];
      for (let c = start; c < end; c++) cells[c] = colour;
    }
    lines.push(cells);
  }
  return { lines, plain: map[1] };
}

for (const theme of THEMES) {
  test(`model and layer names are coloured in ${theme}`, async () => {
    const { lines, plain } = await colours(theme);
    const uncoloured = [];
    for (const [line, word, what] of NAMES) {
      const col = SPEC[line].indexOf(word, SPEC[line].indexOf(' '));
      assert.ok(col >= 0, `${word} on line ${line}`);
      const colour = lines[line][col];
      if (!colour || colour.toLowerCase() === String(plain).toLowerCase()) uncoloured.push(`${what} '${word}'`);
    }
    assert.deepEqual(uncoloured, [], `left in the default foreground ${plain}`);
  });
}
