# -*- coding: utf-8 -*-
# Copyright: izuma.device_management contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options of every plugin that talks to the Izuma Device Management API."""

from __future__ import annotations


class ModuleDocFragment:
    """Use C(izuma.device_management.connection) in the modules that talk to the API."""

    # Modules: the environment fallbacks are part of the argument spec.
    DOCUMENTATION = r"""
options:
  api_host:
    description:
      - Base URL of the Izuma Device Management API.
      - If not set, the E(IZUMA_API_HOST) environment variable is used.
    type: str
    default: https://api.us-east-1.mbedcloud.com
  api_key:
    description:
      - "An administrator access key (it starts with V(ak_)), sent as C(Authorization: Bearer ak_...)."
      - If not set, the E(IZUMA_API_KEY) environment variable is used.
      - When JWT authentication (O(auth_application_id) with its key) is configured too, the one the task gives (its
        arguments or the play's C(module_defaults)) wins over the one from the environment, with a warning that names
        the variables not used. Given at the same level (both in the task, or both from the environment), the access
        key wins, and a warning names the JWT options not used. See the notes.
    type: str
  auth_application_id:
    description:
      - Authenticate with a JWT instead of an access key, as this application (32 hex characters).
      - The collection signs its own short-lived token with O(auth_private_key_path) or O(auth_private_key_content)
        and sends it with C(X-Application-ID). The application needs an ACTIVE, unexpired verification key
        matching that private key, and enough rights (the Administrators group) for the task.
      - If not set, the E(IZUMA_APPLICATION_ID) environment variable is used.
      - Given in the task with its key, it wins over an access key from E(IZUMA_API_KEY), which is then not used (a
        warning says so); see O(api_key) and the notes.
    type: str
  auth_private_key_path:
    description:
      - Path, on the host where the module runs, of the PEM private key that signs the authentication JWT.
      - If not set, the E(IZUMA_PRIVATE_KEY_PATH) environment variable is used.
      - Give one of O(auth_private_key_path), O(auth_private_key_content) and O(auth_pkcs11_key_label). A key the task
        gives wins over one from the environment (a warning names the variable not used); two at the same level are
        refused.
    type: path
  auth_private_key_content:
    description:
      - The PEM private key that signs the authentication JWT, as content (for example from Ansible Vault).
      - If not set, the E(IZUMA_PRIVATE_KEY) environment variable is used.
    type: str
  auth_private_key_passphrase:
    description:
      - Passphrase of an encrypted authentication private key.
      - If not set, the E(IZUMA_PRIVATE_KEY_PASSPHRASE) environment variable is used.
    type: str
  auth_pkcs11_key_label:
    description:
      - Sign the authentication JWT with this private key object (its CKA_LABEL) inside a PKCS#11 token instead of a
        key file - a hardware security module, a cloud key service's PKCS#11 library or SoftHSM2. The key never
        leaves the token; the module logs in once and signs its tokens there.
      - Needs O(auth_application_id) and O(auth_pkcs11_library); given in the task, it wins over O(auth_private_key_path)
        or O(auth_private_key_content) from the environment, and is refused beside one given in the task.
        M(izuma.device_management.izuma_jwt) describes the same options without the C(auth_) prefix.
      - Needs C(python-pkcs11) on the host where the module runs.
    type: str
  auth_pkcs11_library:
    description:
      - Path, on the host where the module runs, of the PKCS#11 module (the vendor's shared library) for
        O(auth_pkcs11_key_label), for example C(/usr/lib/softhsm/libsofthsm2.so).
      - If not set, the E(IZUMA_PKCS11_LIBRARY) environment variable is used.
    type: path
  auth_pkcs11_token:
    description:
      - The token that holds O(auth_pkcs11_key_label), by its label or an RFC 7512 C(pkcs11:) URI (without
        C(pin-value)). If neither this nor O(auth_pkcs11_serial) is given, the library must have exactly one initialised token.
      - If not set, the E(IZUMA_PKCS11_TOKEN) environment variable is used.
    type: str
  auth_pkcs11_serial:
    description:
      - The serial number of that token, when labels are not unique.
      - If not set, the E(IZUMA_PKCS11_SERIAL) environment variable is used.
    type: str
  auth_pkcs11_pin:
    description:
      - The token's user PIN. It is never logged, returned or written; a wrong PIN fails the task before any request.
      - If not set, the E(IZUMA_PKCS11_PIN) environment variable is used.
    type: str
  auth_jwt_algorithm:
    description:
      - JWS algorithm of the authentication JWT. By default RS256 for RSA keys, and ES256, ES384 or ES512 for EC keys
        on P-256, P-384 or P-521.
      - If not set, the E(IZUMA_JWT_ALGORITHM) environment variable is used.
    type: str
    choices: [RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512]
  validate_certs:
    description:
      - Verify the API server's TLS certificate. Turn this off only to test against a local emulator.
      - If not set, the E(IZUMA_VALIDATE_CERTS) environment variable is used.
      - While verification is off, every task warns, naming what turned it off (O(validate_certs) or E(IZUMA_VALIDATE_CERTS)).
    type: bool
    default: true
  ca_path:
    description:
      - A CA bundle (PEM) to verify the API server's certificate with, instead of the system's trust store.
      - If not set, the E(IZUMA_CA_BUNDLE) environment variable is used.
    type: path
  timeout:
    description:
      - Seconds to wait for the API on each request (connect and read).
      - If not set, the E(IZUMA_TIMEOUT) environment variable is used.
    type: float
    default: 30
  retries:
    description:
      - How many times a request is retried after HTTP 429, 502, 503, 504 or a connection error, with capped
        exponential backoff and full jitter, honouring C(Retry-After).
      - A create request (POST) whose outcome is unknown is never sent again blindly; the object is looked up first.
      - The longest a request can take is (O(retries) + 1) times O(timeout), plus at most 15.5 seconds of backoff
        with the default 5 retries. With the defaults, a server that accepts connections and never answers is given up
        after at most about 3 minutes 15 seconds; a refused connection or a host name that does not resolve fails within
        about 16 seconds. The error says how many tries were made and how long they took.
      - If not set, the E(IZUMA_RETRIES) environment variable is used.
    type: int
    default: 5
requirements:
  # The python-pkcs11 line is word for word the one in pkcs11.py: a module with both fragments then lists it once.
  - requests
  - cryptography and PyJWT (for JWT authentication)
  - python-pkcs11 0.10 or later and a PKCS#11 module on the host that signs (to use a key in a PKCS#11 token)
notes:
  - "Which credential authenticates is never left to chance. Where an access key (O(api_key)) and JWT authentication
    (O(auth_application_id) with O(auth_private_key_path), O(auth_private_key_content) or O(auth_pkcs11_key_label))
    both reach a task, the one the task spells out - in its arguments or the play's C(module_defaults) - wins over
    the one that came from an environment variable. Both in the task, or both from the environment: the access key
    wins. Whatever is not used is named in a warning (the option, or the environment variable), never by its value."
  - "JWT options from the environment that do not make a whole JWT configuration (E(IZUMA_APPLICATION_ID) without a key)
    are not used and not warned about. A task that asks for JWT authentication without its application id or its key
    fails, rather than fall back to an access key from E(IZUMA_API_KEY)."
  - All modules that talk to the API belong to the action group C(izuma.device_management.izuma), so
    C(module_defaults) with C(group/izuma.device_management.izuma) sets these options once for a play.
"""
