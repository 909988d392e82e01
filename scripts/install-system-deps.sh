#!/usr/bin/env bash
# Installs the Debian packages the tests need, only those that are missing:
#   chromium          headless browser for Playwright (/usr/bin/chromium; WebGL via SwiftShader)
#   orthanc           the test PACS (Orthanc binary)
#   orthanc-dicomweb  its DICOMweb plugin (QIDO-RS / WADO-RS / STOW-RS)
#   dcmtk             dcmodify/dcmdump (give the real J2K test series valid UIDs without re-encoding)
#   libgdcm-tools     gdcmconv (independent JPEG 2000 decoder the e2e tests compare against)
#   dicom3tools       dciodvfy (DICOM IOD validator used by the writer tests)
# Runs apt-get update first when something must be installed. Needs root (or passwordless sudo) and apt-get;
# otherwise it stops and names what is missing. Exit 0 when everything is present.
set -euo pipefail

# package -> a file that proves it is installed (works even where dpkg is not the package manager)
declare -A PROBE=(
  [chromium]=/usr/bin/chromium
  [orthanc]=Orthanc
  [orthanc-dicomweb]=/usr/share/orthanc/plugins/libOrthancDicomWeb.so
  [dcmtk]=dcmodify
  [libgdcm-tools]=gdcmconv
  [dicom3tools]=dciodvfy
)
ORDER=(chromium orthanc orthanc-dicomweb dcmtk libgdcm-tools dicom3tools)

have() {
  local probe=$1
  if [[ $probe == /* ]]; then [[ -e $probe ]]; else command -v "$probe" >/dev/null 2>&1 || [[ -x /usr/sbin/$probe ]]; fi
}

missing=()
for pkg in "${ORDER[@]}"; do
  have "${PROBE[$pkg]}" || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system deps: all present (${ORDER[*]})"
  exit 0
fi

echo "system deps: missing ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR: apt-get is not available; install these Debian/Ubuntu packages (or equivalents) yourself: ${missing[*]}" >&2
  exit 1
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "ERROR: not root and no passwordless sudo; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"

still=()
for pkg in "${missing[@]}"; do have "${PROBE[$pkg]}" || still+=("$pkg"); done
if [[ ${#still[@]} -gt 0 ]]; then
  echo "ERROR: installed but still not found: ${still[*]} (expected ${PROBE[${still[0]}]})" >&2
  exit 1
fi
echo "system deps: installed ${missing[*]}"
