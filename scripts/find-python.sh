# Sourced by scripts/setup.sh and scripts/pythons.sh.
# find_python X.Y ...: the first of the given versions that runs: pythonX.Y on PATH, else pyenv's newest X.Y.Z.
find_python() {
    for v in "$@"; do
        if command -v "python$v" >/dev/null 2>&1 && "python$v" -c "import sys" >/dev/null 2>&1; then
            echo "python$v"
            return 0
        fi
        if command -v pyenv >/dev/null 2>&1; then
            full=$(pyenv versions --bare 2>/dev/null | grep -E "^${v//./\\.}(\.[0-9]+)?$" | sort -V | tail -1 || true)
            if [ -n "$full" ] && [ -x "$(pyenv root)/versions/$full/bin/python$v" ]; then
                echo "$(pyenv root)/versions/$full/bin/python$v"
                return 0
            fi
        fi
    done
    return 1
}
