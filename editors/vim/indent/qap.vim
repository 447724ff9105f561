" Vim indent file
" Language: QAP (.qap specs of qapc: quantization-aware pruning)
" One level (shiftwidth, four spaces in editors/vim/ftplugin) for every bracket a line leaves
" open, one level less for each bracket a line starts by closing: what `qapc fmt` writes.
" Brackets inside strings and comments do not count.

if exists("b:did_indent")
  finish
endif
let b:did_indent = 1

setlocal autoindent nosmartindent nocindent nolisp
setlocal indentexpr=QapIndent(v:lnum)
setlocal indentkeys=0},0],0),!^F,o,O
let b:undo_indent = "setlocal autoindent< smartindent< cindent< lisp< indentexpr< indentkeys<"

if exists("*QapIndent")
  finish
endif

" The line without its strings and its comment.
function! s:Code(line) abort
  let code = substitute(a:line, '"\%([^"\\]\|\\.\)*"\=', '""', 'g')
  return substitute(code, '#.*$', '', '')
endfunction

" How many closing brackets the line starts with.
function! s:LeadingClosers(code) abort
  return len(matchstr(a:code, '^\s*\zs[}\])]*'))
endfunction

" Brackets the line opens minus those it closes, the closers it starts with left out.
function! s:Opened(code) abort
  let opens = len(substitute(a:code, '[^{[(]', '', 'g'))
  let closes = len(substitute(a:code, '[^}\])]', '', 'g'))
  return opens - closes + s:LeadingClosers(a:code)
endfunction

function! QapIndent(lnum) abort
  let prev = prevnonblank(a:lnum - 1)
  if prev == 0
    return 0
  endif
  let levels = s:Opened(s:Code(getline(prev))) - s:LeadingClosers(s:Code(getline(a:lnum)))
  return max([0, indent(prev) + levels * shiftwidth()])
endfunction
