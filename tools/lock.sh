#!/usr/bin/env bash
# Refresh constraints.txt, the versions the README's commands and CI install: run it in an environment where
# the README's test command just passed (`pip freeze` of it, without the project itself and without torch,
# which the commands pin first on their own). Commit the result on purpose, with the test run it came from.
set -euo pipefail
cd "$(dirname "$0")/.."
{
    echo "# Versions the test suite passed with (tools/lock.sh, $(date -u +%Y-%m-%d), Python $(python -c 'import platform; print(platform.python_version())'))."
    echo "# The README's commands install with -c constraints.txt; refresh on purpose, never by hand."
    pip freeze --exclude-editable | grep -v -i -E '^(torch|xolver)==' | grep '=='
} > constraints.txt
echo "wrote constraints.txt ($(grep -c '==' constraints.txt) pins)"
