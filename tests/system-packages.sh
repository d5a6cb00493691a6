#!/usr/bin/env bash
# The system packages the tests need, installed once with Debian's apt-get (as root, or
# through sudo): Chromium and a CJK font for the page tests, promtool (from the prometheus
# package; the server is not run) for the alert rules, kubectl to render the manifests,
# openssl for the TLS test's certificates, dovecot (an IMAP server, run by the test as a child
# process) for `kefu adapter imap`. Quiet when everything is there.
set -euo pipefail
declare -A package_of=(
    [chromium]=chromium
    [promtool]=prometheus
    [kubectl]=kubernetes-client
    [openssl]=openssl
    [dovecot]=dovecot-imapd
)
missing=()
for command in "${!package_of[@]}"; do
    # daemons such as dovecot are in sbin, which a user's PATH may lack
    PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null || missing+=("${package_of[$command]}")
done
fc-list 2>/dev/null | grep -qi wqy || missing+=(fonts-wqy-zenhei)
if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null; then
        echo "the tests need: ${missing[*]} (Debian package names); install them, then run make test again" >&2
        exit 1
    fi
    sudo=""
    [[ $(id -u) == 0 ]] || sudo="sudo"
    echo "installing the system packages the tests need: ${missing[*]}"
    $sudo apt-get update -qq
    # prometheus only for promtool: without its recommends (node exporter and the like)
    lean=(--no-install-recommends)
    [[ " ${missing[*]} " == *" chromium "* ]] && lean=()
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${lean[@]}" "${missing[@]}"
fi
# kustomize's `labels` and `patches` need kubectl 1.21 or newer.
if ! kubectl kustomize "$(dirname "$0")/../deploy/k8s/overlays/prod" >/dev/null; then
    echo "kubectl $(kubectl version --client 2>/dev/null | head -1) cannot render deploy/k8s; install kubectl 1.21 or newer" >&2
    exit 1
fi
