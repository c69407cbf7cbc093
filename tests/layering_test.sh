#!/usr/bin/env bash
# Fails when the dependency rules of docs/architecture.md, "Rules", are broken:
#  1. the torch-free modules include LibTorch (torch/, ATen/, c10/);
#  2. a module includes another module's internal/ headers (a module's own tests, tests/<module>/,
#     may include its internal/ headers: white-box tests such as query plans);
#  3. any file includes <torch/torch.h> or <torch/nn.h> (25-30 s per translation unit here).
set -u
root=${1:?usage: layering_test.sh REPO_ROOT}
cd "$root" || exit 2
failures=0
fail() { echo "layering: $1"; failures=$((failures + 1)); }

torch_free="base catalog arrays tokenizers tasks coordinator db report dashboard sweeps proto cli comm worker"
for module in $torch_free; do
  [ -d "$module" ] || continue
  while IFS= read -r hit; do
    fail "$hit: module '$module' must not include LibTorch"
  done < <(grep -rnE '^\s*#\s*include\s*[<"](torch|ATen|c10)/' "$module" --include='*.h' --include='*.cc' --include='*.cpp' 2>/dev/null)
done

# tests/testdata/ holds deliberate violations (the fixture of layering_violation_test).
for file in $(git ls-files --cached --others --exclude-standard -- "*.h" "*.cc" "*.cpp" \
              ":(exclude)tests/testdata" 2>/dev/null); do
  module=${file%%/*}
  if [ "$module" = tests ]; then
    rest=${file#tests/}
    module=${rest%%/*}
  fi
  while IFS= read -r include; do
    other=${include%%/internal/*}
    if [ "$other" != "$module" ]; then
      fail "$file includes $include: internal/ headers are private to module '$other'"
    fi
  done < <(grep -oE '^\s*#\s*include\s*"[a-z_]+/internal/[^"]+"' "$file" | sed -E 's/.*"(.*)"/\1/')
  if grep -qE '^\s*#\s*include\s*<torch/(torch|nn)\.h>' "$file"; then
    fail "$file includes <torch/torch.h> or <torch/nn.h>; include the narrowest header (docs/architecture.md, \"Rules\")"
  fi
done

if [ "$failures" -ne 0 ]; then
  echo "layering_test: $failures violation(s)"
  exit 1
fi
echo "layering_test: dependency rules hold"
