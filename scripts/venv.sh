# Sourced by the scripts: a virtual environment with the project installed (editable).
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
. .venv/bin/activate
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
    python -m pip install -q --upgrade pip
    python -m pip install -q -e '.[dev]'
    touch .venv/.installed
fi
