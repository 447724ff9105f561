-- Neovim (headless) as the language server's client: the setup editors/README.md gives, then a
-- session of typing into an unsaved buffer. Run by tests/test_nvim_lsp.py, which asserts what this
-- writes to $QAP_RESULT (JSON). Arguments come in environment variables: QAP_SPEC (the file to
-- open), QAP_RESULT. `qapc` must be on PATH.
local spec, result_file = os.getenv("QAP_SPEC"), os.getenv("QAP_RESULT")
local TIMEOUT = 15000
local result = {}

local function save()
  local f = assert(io.open(result_file, "w"))
  f:write(vim.json.encode(result))
  f:close()
end

local function wait(what, cond)
  if not vim.wait(TIMEOUT, cond, 20) then
    error("timed out waiting for " .. what)
  end
end

-- the diagnostics the server published, by buffer version
local published = {}
local on_publish = vim.lsp.handlers["textDocument/publishDiagnostics"]
vim.lsp.handlers["textDocument/publishDiagnostics"] = function(err, params, ctx, config)
  if params.version then
    published[params.version] = #params.diagnostics
  end
  return on_publish(err, params, ctx, config)
end

local function run()
  vim.cmd("filetype plugin indent on")
  -- editors/README.md, Neovim
  vim.api.nvim_create_autocmd("FileType", { pattern = "qap", callback = function()
    vim.lsp.start({ name = "qapc", cmd = { "qapc", "lsp" }, root_dir = vim.fs.root(0, { ".git" }) })
  end })
  vim.cmd.edit(spec)
  local buf = vim.api.nvim_get_current_buf()
  result.filetype = vim.bo[buf].filetype
  wait("the server to attach", function() return #vim.lsp.get_clients({ bufnr = buf }) > 0 end)
  local client = vim.lsp.get_clients({ bufnr = buf })[1]
  wait("the server to start", function() return client.initialized end)
  result.server = client.name

  local function version() return vim.lsp.util.buf_versions[buf] end
  local function settle(what)
    local v = version()
    wait(what .. " (diagnostics of version " .. v .. ")", function() return published[v] ~= nil end)
    return vim.diagnostic.get(buf)
  end
  local function lines() return vim.api.nvim_buf_get_lines(buf, 0, -1, false) end
  local function find(pattern)
    for i, l in ipairs(lines()) do
      local col = l:find(pattern)
      if col then return i - 1, col - 1 end
    end
    error("no line matches " .. pattern)
  end
  local function request(method, params)
    local answers = vim.lsp.buf_request_sync(buf, method, params, TIMEOUT)
    local answer = answers and answers[client.id]
    if answer == nil then error(method .. ": no answer") end
    if answer.err then error(method .. ": " .. vim.inspect(answer.err)) end
    return answer.result
  end
  local function at(line, col) return { textDocument = { uri = vim.uri_from_bufnr(buf) }, position = { line = line, character = col } } end

  result.initial = #settle("the first check")

  -- type a typo into the buffer, unsaved: `batchnorm` → `batchnrom` in fc1's block
  local l, c = find("batchnorm")
  local row = lines()[l + 1]
  vim.api.nvim_buf_set_lines(buf, l, l + 1, false, { row:sub(1, c) .. "batchnrom" .. row:sub(c + 10) })
  local diags = settle("the typo")
  result.modified = vim.bo[buf].modified
  result.diagnostics = vim.tbl_map(function(d) return { code = d.code, message = d.message, lnum = d.lnum, col = d.col } end, diags)

  -- the quick fix of that diagnostic
  local raw = vim.lsp.diagnostic.from(diags)
  local actions = request("textDocument/codeAction", {
    textDocument = { uri = vim.uri_from_bufnr(buf) }, range = raw[1].range, context = { diagnostics = raw },
  })
  result.actions = vim.tbl_map(function(a) return a.title end, actions)
  vim.lsp.util.apply_workspace_edit(actions[1].edit, client.offset_encoding)
  result.fixed_line = lines()[l + 1]
  result.after_fix = #settle("the fix")

  -- hover on a layer, while the buffer is unsaved
  local hl, hc = find("dense fc2")
  local hover = request("textDocument/hover", at(hl, hc + 7))
  result.hover = hover and hover.contents.value

  -- formatting: spoil the indentation, then format
  local before = lines()
  vim.api.nvim_buf_set_lines(buf, hl, hl + 1, false, { "dense   fc2 32    relu { batchnorm; l1 1e-4 }" })
  vim.lsp.buf.format({ bufnr = buf, async = false, timeout_ms = TIMEOUT })
  result.formatted_back = vim.deep_equal(lines(), before)

  -- rename the output layer (declared once, used by `skip`) with Neovim's own rename
  local rl, rc = find("dense out")
  vim.api.nvim_win_set_cursor(0, { rl + 1, rc + 7 })
  vim.lsp.buf.rename("logits")
  wait("the rename", function() return table.concat(lines(), "\n"):find("skip logits") ~= nil end)
  result.renamed = vim.tbl_filter(function(x) return x:find("logits") end, lines())

  -- the outline
  local symbols = request("textDocument/documentSymbol", { textDocument = { uri = vim.uri_from_bufnr(buf) } })
  result.symbols = vim.tbl_map(function(s)
    return { name = s.name, kind = s.kind, children = vim.tbl_map(function(ch) return ch.name end, s.children or {}) }
  end, symbols)

  result.after_rename = #settle("the rename")
  result.on_disk_unchanged = vim.fn.readfile(spec)[rl + 1]:find("dense out") ~= nil
end

local ok, err = pcall(run)
if not ok then
  result.error = tostring(err)
end
save()
vim.cmd("qa!")
