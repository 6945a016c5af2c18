# Sourced by scripts/run and scripts/test: makes .venv (Python 3.11) and installs the given requirements
# file whenever it changed since the last install.
requirements=$1
if [ ! -x .venv/bin/python ]; then
  python=$(command -v python3.11 || command -v python3)
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(basename "$requirements")
if ! cat requirements*.txt | cmp -s - "$stamp" 2>/dev/null; then
  echo "Installing $requirements into .venv ..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cat requirements*.txt > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
