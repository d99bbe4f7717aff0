#!/usr/bin/env bash
# Put the offline get-pip stand-in where ansible-test looks for its cached bootstrap script.
# Usage: hack/install-ansible-test-bootstrap.sh PYTHON  (a python whose ansible-test to serve)
set -euo pipefail
python=${1:?python of the virtual environment that runs ansible-test}
here=$(cd "$(dirname "$0")" && pwd)
version=$("$python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages)).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp "$here/get_pip_standin.py" "$cache"
echo "ansible-test pip $version bootstrap: $cache"
