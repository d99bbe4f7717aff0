#!/usr/bin/env bash
# Key pairs and certificates made with the openssl command line, independently of the collection: existing material
# for the module to upload, and material that breaks one of the API's rules each, for the refusals.
# Usage: make_material.sh DIR
set -euo pipefail
dir=${1:?directory}
mkdir -p "${dir}"
cd "${dir}"
quiet() { "$@" 2>/dev/null; }

# Existing material: an RSA 3072 key and its certificate (given as content), an EC P-384 pair (given as paths).
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out legacy.key
openssl req -x509 -new -key legacy.key -subj "/CN=legacy/O=Example" -days 90 -out legacy.crt
quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out files.key
openssl req -x509 -new -key files.key -subj "/CN=from-files" -days 120 -out files.crt

# Too weak or unusable keys.
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out rsa1024.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime192v1 -out p192.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:secp256k1 -out secp256k1.key

# A good EC key, and certificates for it that break the rules: two certificates in one file, DER instead of PEM.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ec.key
openssl req -x509 -new -key ec.key -subj "/CN=ec" -days 90 -out ec.crt
cat ec.crt ec.crt > two.crt
openssl x509 -in ec.crt -outform DER -out ec.der

# A certificate of another key (a name held by another key; a certificate that does not match the key).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out stranger.key
openssl req -x509 -new -key stranger.key -subj "/CN=stranger" -days 90 -out stranger.crt

# Two keys an administrator uploads through the API.
for name in admin1 admin2; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${name}.key"
    openssl req -x509 -new -key "${name}.key" -subj "/CN=${name}" -days 90 -out "${name}.crt"
done

# Over 2,000 characters: an RSA 4096 key with a long subject.
quiet openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out big.key
long=$(printf '%060d' 0 | tr 0 x)
openssl req -x509 -new -key big.key -days 90 -out big.crt \
    -subj "/C=FI/ST=st-${long}/L=l-${long}/O=o-${long}/OU=ou-${long}/CN=big"

# Expired certificates: valid from ten days ago to one day ago (openssl ca sets both dates).
mkdir -p ca
: > ca/index.txt
cat > ca.cnf <<'CNF'
[ca]
default_ca = selfsign
[selfsign]
database = ca/index.txt
new_certs_dir = ca
rand_serial = yes
default_md = sha256
policy = anything
unique_subject = no
[anything]
commonName = supplied
CNF
start=$(date -u -d '-10 days' +%Y%m%d%H%M%SZ)
end=$(date -u -d '-1 days' +%Y%m%d%H%M%SZ)
for name in expired revive; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "${name}.key"
    openssl req -new -key "${name}.key" -subj "/CN=${name}" -out "${name}.csr"
    quiet openssl ca -batch -config ca.cnf -selfsign -keyfile "${name}.key" -in "${name}.csr" -notext \
        -startdate "${start}" -enddate "${end}" -out "${name}.crt"
done

# The user's own CA (certificate_provider=ownca and external): EC P-384, its key encrypted with the passphrase.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -aes-256-cbc -pass env:VK_PASSPHRASE -out userca.key
openssl req -x509 -new -key userca.key -passin env:VK_PASSPHRASE -subj "/O=Example/CN=Example Root CA" -days 3650 -out userca.crt
# A certificate that says it is no CA's (basicConstraints CA:FALSE), with its key: refused as ownca_path.
openssl req -new -key stranger.key -subj "/CN=not-a-ca" -out notaca.csr
printf 'basicConstraints=critical,CA:FALSE\n' > notaca.ext
quiet openssl x509 -req -in notaca.csr -signkey stranger.key -extfile notaca.ext -days 90 -out notaca.crt

# An encrypted key (for the wrong passphrase).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass env:VK_PASSPHRASE -out encrypted.key
chmod 0600 ./*.key
