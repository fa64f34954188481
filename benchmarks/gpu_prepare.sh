#!/usr/bin/env bash
# Prepares, on this machine, what benchmarks/gpu_session.sh needs on a lent GPU machine: its
# image has jax, flax, optax, orbax, chex, absl and torch for Python 3.12, but not
# tensorflow-datasets and its dependencies nor tensorboardX (wheels into .whl/, the versions
# of constraints.txt; promise is an sdist, built here), and no ../shared (MNIST into
# .gpu_data/mnist, Debian's Fashion-MNIST into .gpu_data/fashion_mnist). Both folders are
# git-ignored: name them in the device tool's carry (about 50 MB together).
#
#   bash benchmarks/gpu_prepare.sh
#   then on the device, carry [".whl", ".gpu_data"]: PART=... bash benchmarks/gpu_session.sh
set -euo pipefail
cd "$(dirname "$0")/.."
pip=(python3 -m pip)
[[ -x .venv/bin/python ]] && pip=(.venv/bin/python -m pip)

pinned() {  # pinned NAME: NAME==<version in constraints.txt>, or NAME
  local version
  version=$(grep -i "^$1==" constraints.txt | head -n 1 | cut -d= -f3)
  echo "$1${version:+==$version}"
}
binary=(download --quiet --no-deps --only-binary=:all: --python-version 3.12
        --implementation cp --abi cp312 --platform manylinux_2_28_x86_64
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
rm -rf .whl && mkdir -p .whl/optional
for name in tensorflow-datasets array-record dm-tree docstring-parser \
    googleapis-common-protos immutabledict importlib-resources simple-parsing \
    tensorflow-metadata termcolor toml tzdata tensorboardX; do
  "${pip[@]}" "${binary[@]}" -d .whl "$(pinned $name)"
done
"${pip[@]}" wheel --quiet --no-deps -w .whl "$(pinned promise)"
# tensorflow-metadata needs protobuf >= 6.31.1: gpu_session.sh installs this one only when
# the image's protobuf is older.
"${pip[@]}" "${binary[@]}" -d .whl/optional "$(pinned protobuf)"

mkdir -p .gpu_data/mnist .gpu_data/fashion_mnist
cp ../shared/data/mnist/*.gz .gpu_data/mnist/
fashion=/usr/share/datasets/fashion-mnist
if [[ -e $fashion/train-images-idx3-ubyte.gz ]]; then
  cp "$fashion"/*-ubyte.gz .gpu_data/fashion_mnist/
else
  echo "no Fashion-MNIST in $fashion: apt-get install -y dataset-fashion-mnist first" >&2
fi
du -sh .whl .gpu_data
ls .whl .whl/optional .gpu_data/*
