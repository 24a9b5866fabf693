#!/bin/sh
# The `tf2caffe` command run from this checkout, without installing it: each command in its own
# environment (`make setup` builds them), exiting with the tool's own status (README: "Exit statuses").
# This is what scripts call; `make export/import/inspect` call it too, but make itself exits 2 for any
# failure.
#
#   ./tf2caffe.sh export MODEL -o BUNDLE [OPTION]...   TF side: .venv/ (or $TF2CAFFE_PYTHON)
#   ./tf2caffe.sh import BUNDLE -o OUT [OPTION]...     Caffe side: python3 if it has caffe, else the root
#                                                      filesystem (docker/caffe-run), with the folders of
#                                                      the files named and OUT mounted
#   ./tf2caffe.sh inspect BUNDLE
#
# Every argument reaches the tool as it is: no shell parses it, so a name holding `...`, $(...), quotes or
# spaces is only a name. A path that starts with '-' is written ./-name, or after '--' (options first:
# `./tf2caffe.sh import -o OUT -- -name.npz`), as for any command.
set -eu
HERE=$(CDPATH='' cd -- "$(dirname -- "$(realpath -- "$0")")" && pwd)
# Python's `-m` puts the current folder first on sys.path, where a file of the folder being converted
# (shared.py, numpy.py, ...) would shadow the converter's modules; it goes last instead (a plugin can
# still import the user's own modules from there).
BOOT='import sys
if sys.path and sys.path[0] == "":
    sys.path.append(sys.path.pop(0))
from tf2caffe.cli import main
sys.exit(main(sys.argv[1:]))'
PYPATH=$HERE${PYTHONPATH:+:$PYTHONPATH}

has_caffe() {
    python3 -c 'import sys
sys.path[:1] = [p for p in sys.path[:1] if p]
import importlib.util as u
sys.exit(u.find_spec("caffe") is None)' >/dev/null 2>&1
}

tf_python() {
    PY=${TF2CAFFE_PYTHON:-$HERE/.venv/bin/python}
    if ! command -v "$PY" >/dev/null 2>&1; then
        echo "tf2caffe.sh: no TF environment ($PY); run 'make setup' first" >&2
        exit 2
    fi
}

case ${1:-} in
export)
    tf_python
    PYTHONPATH=$PYPATH exec "$PY" -c "$BOOT" "$@";;
inspect)
    if has_caffe; then PY=python3; else tf_python; fi
    PYTHONPATH=$PYPATH exec "$PY" -c "$BOOT" "$@";;
import)
    if has_caffe; then
        PYTHONPATH=$PYPATH GLOG_minloglevel=${GLOG_minloglevel:-2} exec python3 -c "$BOOT" "$@"
    fi
    # The root filesystem sees only the folders mounted into it: the folder of every file named (the
    # bundle, --labels, --plugin, --prototxt, --map, in any of argparse's spellings), OUT (created first),
    # the plugins of TF2CAFFE_PLUGINS. A folder name is taken apart with the shell's own pattern
    # operators, never through a command's output (which would lose trailing newlines).
    set -- python3 -c "$BOOT" "$@"
    i=0; out_next=; options=1
    for a in "$@"; do
        i=$((i + 1))
        [ "$i" -gt 4 ] || continue            # python3 -c BOOT import
        v=$a; is_out=
        if [ -n "$out_next" ]; then
            out_next=; is_out=1
        elif [ -n "$options" ]; then
            case $a in
                --) options=; continue;;
                -o|--o|--ou|--out|--outp|--outpu|--output) out_next=1; continue;;
                -o?*) v=${a#-o}; is_out=1;;
                --o=*|--ou=*|--out=*|--outp=*|--outpu=*|--output=*) v=${a#*=}; is_out=1;;
                --*=*) [ -f "$a" ] || v=${a#*=};;
            esac
        fi
        if [ -n "$is_out" ]; then
            mkdir -p -- "$v" 2>/dev/null || :
            if [ -d "$v" ]; then set -- --bind "$v" "$@"; fi
        elif [ -f "$v" ]; then
            case $v in */*) d=${v%/*}; d=${d:-/};; *) d=.;; esac
            set -- --bind "$d" "$@"
        fi
    done
    set -f; OLDIFS=$IFS; IFS=:
    for p in ${TF2CAFFE_PLUGINS:-}; do
        [ -f "$p" ] || continue
        case $p in */*) d=${p%/*}; d=${d:-/};; *) d=.;; esac
        set -- --bind "$d" "$@"
    done
    IFS=$OLDIFS; set +f
    exec "$HERE/docker/caffe-run" "$@";;
*)  # help, --version, an unknown command: the dispatcher answers (it needs neither side)
    PYTHONPATH=$PYPATH exec python3 -c "$BOOT" "$@";;
esac
