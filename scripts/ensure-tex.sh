#!/bin/sh
# Make sure the TeX packages and tools qgen needs are installed (Debian/Ubuntu).
# Installs what is missing when run as root (or with passwordless sudo); otherwise prints
# the exact command to run. Nothing is downloaded at run time of qgen itself.
set -eu

# What each package is for, so the user knows why it is being installed.
NEEDS="texlive-latex-base:pdflatex,amsmath,geometry
texlive-latex-recommended:standard LaTeX packages
texlive-latex-extra:extra LaTeX packages
texlive-pictures:TikZ for the network diagrams
lmodern:Latin Modern fonts (accented names)
texlive-luatex:LuaLaTeX, for names in non-Latin scripts
fonts-noto-core:Noto fonts for Indic, Arabic and other scripts in names
fonts-noto-cjk:Noto fonts for Chinese, Japanese and Korean names
latexmk:rebuilding a single .tex by hand
poppler-utils:pdftotext, used by the tests
parallel:GNU parallel, for the sharding recipe (and its test)"

missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for entry in $(printf '%s\n' "$NEEDS" | cut -d: -f1); do
        status=$(dpkg-query -W -f='${Status}' "$entry" 2>/dev/null || true)
        case "$status" in *"install ok installed"*) ;; *) missing="$missing $entry" ;; esac
    done
else
    # Not Debian: check the tools and files directly.
    for tool in pdflatex kpsewhich pdftotext parallel; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    if command -v kpsewhich >/dev/null 2>&1; then
        for file in tikz.sty lmodern.sty geometry.sty amsmath.sty; do
            kpsewhich "$file" >/dev/null 2>&1 || missing="$missing $file"
        done
    fi
    if [ -n "$missing" ]; then
        echo "qgen needs a TeX Live with LaTeX, TikZ and Latin Modern, poppler's pdftotext and GNU parallel; missing:$missing" >&2
        exit 1
    fi
    exit 0
fi

[ -z "$missing" ] && exit 0

echo "qgen needs these Debian packages, which are not installed:"
printf '%s\n' "$NEEDS" | while IFS=: read -r pkg why; do
    case " $missing " in *" $pkg "*) echo "  $pkg  ($why)" ;; esac
done
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" = 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo"
else
    echo "Install them with:  sudo apt-get update && sudo $cmd" >&2
    exit 1
fi
echo "Installing them now (apt-get; a few minutes the first time)..."
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO $cmd -qq >/dev/null
echo "TeX is ready."
