" .qap specs of qapc (quantization-aware pruning)
autocmd BufRead,BufNewFile *.qap setfiletype qap
