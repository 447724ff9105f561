"""The language server (`qapc lsp`, whose command line is `qapdsl.commands.lsp`): analysis, navigation, hover,
completion and the checker without the protocol; `server.py` and `rpc.py` with pygls, imported only when the
server starts."""
